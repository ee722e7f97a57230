"""The sandbox framework: control endpoints, faults, state file, processes."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from sandboxes import registry
from sandboxes.framework import start_subprocess

HEADERS = {"X-Api-Key": "echo-key"}


def test_control_endpoints_seed_inspect_and_reset(echo_sandbox):
    echo_sandbox.seed(api_key="abc", items={"7": {"id": 7}})
    assert httpx.get(echo_sandbox.url + "/ping", headers=HEADERS).status_code == 401
    assert httpx.get(echo_sandbox.url + "/ping", headers={"X-Api-Key": "abc"}).json()["ok"]
    assert httpx.get(echo_sandbox.url + "/items/7", headers={"X-Api-Key": "abc"}).json()["item"] == {"id": 7}
    state = echo_sandbox.state()
    assert state["name"] == "echo" and [r["path"] for r in state["requests"]] == ["/ping", "/ping", "/items/7"]
    echo_sandbox.reset()
    state = echo_sandbox.state()
    assert state["requests"] == [] and state["data"]["api_key"] == "echo-key" and state["data"]["items"] == {}


def test_faults_down_error_rate_latency_and_unknown(echo_sandbox):
    echo_sandbox.faults(down=True, retry_after=3)
    response = httpx.get(echo_sandbox.url + "/ping", headers=HEADERS)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    # control endpoints keep working while the partner is "down"
    assert echo_sandbox.state()["faults"]["down"] is True
    echo_sandbox.clear_faults()
    echo_sandbox.faults(error_rate=1.0, error_status=502)
    assert httpx.get(echo_sandbox.url + "/ping", headers=HEADERS).status_code == 502
    echo_sandbox.clear_faults()
    echo_sandbox.faults(latency_ms=300)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(echo_sandbox.url + "/ping", headers=HEADERS, timeout=0.1)
    bad = echo_sandbox.control.post("/faults", json={"meteor": True})
    assert bad.status_code == 400 and "meteor" in bad.json()["error"]


def test_partial_batch_failure_and_idempotency_by_id(echo_sandbox):
    echo_sandbox.faults(partial={"ids": [2]})
    body = {"items": [{"id": 1}, {"id": 2}]}
    first = httpx.post(echo_sandbox.url + "/batch", json=body, headers=HEADERS).json()["results"]
    assert [r["status"] for r in first] == ["ACCEPTED", "REJECTED"]
    echo_sandbox.clear_faults()
    again = httpx.post(echo_sandbox.url + "/batch", json=body, headers=HEADERS).json()["results"]
    assert [r["status"] for r in again] == ["ALREADY", "ACCEPTED"]


def test_dropped_connection_is_a_real_protocol_error(echo_sandbox):
    echo_sandbox.faults(drop_next=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(echo_sandbox.url + "/ping", headers=HEADERS)
    assert httpx.get(echo_sandbox.url + "/ping", headers=HEADERS).status_code == 200


def test_state_file_keeps_partner_data_across_restarts(sandbox, tmp_path):
    path = tmp_path / "echo.json"
    first = sandbox("echo", state_file=str(path))
    httpx.put(first.url + "/items/a", json={"v": 1}, headers=HEADERS).raise_for_status()
    first.stop()
    assert json.loads(path.read_text())["items"] == {"a": {"v": 1}}
    second = sandbox("echo", state_file=str(path))
    assert httpx.get(second.url + "/items/a", headers=HEADERS).json()["item"] == {"v": 1}


def test_passgate_sandbox_runs_as_a_process_on_loopback(tmp_path):
    proc, url = start_subprocess("echo")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/ping", headers=HEADERS).json()["partner"] == "echo"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_the_demo_list_of_sandboxes():
    assert registry.DEMO_SANDBOXES == {"echo": 8101, "otipass": 8102, "tixngo": 8103, "sms": 8104, "hotspot": 8107,
                                      "pms": 8106, "paypal": 8105}
    assert registry.demo_commands() == [
        ["passgate", "sandbox", "echo", "--port", "8101", "--demo"],
        ["passgate", "sandbox", "otipass", "--port", "8102", "--demo"],
        ["passgate", "sandbox", "tixngo", "--port", "8103", "--demo"],
        ["passgate", "sandbox", "sms", "--port", "8104", "--demo"],
        ["passgate", "sandbox", "hotspot", "--port", "8107", "--demo"],
        ["passgate", "sandbox", "pms", "--port", "8106", "--demo"],
        ["passgate", "sandbox", "paypal", "--port", "8105", "--demo"],
    ]
    with pytest.raises(KeyError):
        registry.create_sandbox_app("nope")


def test_demo_data_reaches_the_sandboxes_that_have_some():
    """The demo's Otipass sandbox has the demo project; a sandbox without demo data starts as usual."""
    otipass = registry.create_sandbox_app("otipass", demo=True).state.sandbox.data
    assert "demo" in otipass["projects"] and len(otipass["projects"]["demo"]["passes"]) == 300
    plain = registry.create_sandbox_app("otipass").state.sandbox.data
    assert "demo" not in plain.get("projects", {})
    registry.create_sandbox_app("echo", demo=True)  # no demo data: the flag is not passed on


def test_passgate_sandbox_command(tmp_path):
    import subprocess
    import sys
    import time

    from sandboxes.framework import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "passgate.cli", "sandbox", "echo", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/health").json()["ok"]
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
