"""The partner HTTP client against the real echo sandbox over loopback."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from passgate.connectors.echo.connector import EchoClient
from passgate.jobs.partner_http import PartnerError, RetryPolicy, parse_retry_after

KEY = "k3y-that-must-never-show"


class Sleeps(list):
    """Really sleeps, and remembers how long."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def partner(echo_sandbox):
    echo_sandbox.seed(api_key=KEY)
    calls: list[dict] = []
    sleeps = Sleeps()
    client = EchoClient(echo_sandbox.url, KEY, recorder=lambda **kw: calls.append(kw), sleep=sleeps,
                        retry=RetryPolicy(max_attempts=3, backoff_base=0.05, backoff_max=1, max_retry_after=5),
                        connect_timeout=2, read_timeout=5)
    yield echo_sandbox, client, calls, sleeps
    client.close()


def test_429_with_retry_after_is_waited_out(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(rate_limit={"count": 1, "retry_after": 1})
    assert client.ping() == {"ok": True, "partner": "echo"}
    assert [r["fault"] for r in sandbox.requests("/ping")] == ["429", None]
    assert sleeps == [1.0]  # the partner's Retry-After, not our backoff
    assert [c["status"] for c in calls] == [429, 200]


def test_a_non_idempotent_post_is_retried_after_429_since_it_was_not_processed(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(rate_limit={"count": 1, "retry_after": 0})
    assert client.post("/echo", json={"n": 1}).json()["count"] == 1
    assert len(sandbox.requests("/echo")) == 2


def test_5xx_is_retried_with_growing_backoff_up_to_the_limit(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(fail_next={"count": 10, "status": 502})
    with pytest.raises(PartnerError) as exc:
        client.ping()
    assert exc.value.status == 502 and exc.value.attempts == 3
    assert "502" in exc.value.message and "3 attempts" in exc.value.message
    assert len(sandbox.requests("/ping")) == 3
    assert len(sleeps) == 2
    # equal jitter: attempt n waits between base·2^(n-1)/2 and base·2^(n-1)
    assert 0.025 <= sleeps[0] <= 0.05 and 0.05 <= sleeps[1] <= 0.1


def test_5xx_then_success(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(fail_next={"count": 2, "status": 500})
    assert client.ping()["ok"]
    assert [c["status"] for c in calls] == [500, 500, 200]


def test_503_retry_after_is_honoured(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(fail_next={"count": 1, "status": 503, "retry_after": 1})
    assert client.ping()["ok"]
    assert sleeps == [1.0]


def test_a_retry_after_longer_than_the_cap_fails_clearly(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(rate_limit={"count": 1, "retry_after": 3600})
    with pytest.raises(PartnerError) as exc:
        client.ping()
    assert "3600" in exc.value.found and sleeps == []


def test_a_dropped_connection_is_retried_for_an_idempotent_call(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(drop_next=1)
    assert client.ping()["ok"]
    assert [r["fault"] for r in sandbox.requests("/ping")] == ["dropped", None]
    assert calls[0]["status"] is None and "RemoteProtocolError" in calls[0]["error"]


def test_a_dropped_connection_on_a_batch_idempotent_by_id_is_retried(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(drop_next=1)
    results = client.send_batch([{"id": 1}, {"id": 2}])
    assert [r["status"] for r in results] in (["ACCEPTED", "ACCEPTED"], ["ALREADY", "ALREADY"])


def test_a_non_idempotent_post_is_not_blindly_repeated(partner):
    sandbox, client, calls, sleeps = partner
    sandbox.faults(fail_next={"count": 1, "status": 503})
    with pytest.raises(PartnerError) as exc:
        client.post("/echo", json={"n": 1})
    assert len(sandbox.requests("/echo")) == 1 and exc.value.status == 503
    sandbox.faults(drop_next=1)
    with pytest.raises(PartnerError) as exc:
        client.post("/echo", json={"n": 2})
    assert "not repeated" in exc.value.message
    assert len(sandbox.requests("/echo")) == 2


def test_connection_refused_is_retried_then_reported(partner):
    sandbox, client, calls, sleeps = partner
    from sandboxes.framework import free_port

    dead = EchoClient(f"http://127.0.0.1:{free_port()}", KEY, sleep=sleeps,
                      retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    with pytest.raises(PartnerError) as exc:
        dead.ping()
    assert "cannot be reached" in exc.value.message and exc.value.attempts == 2


def test_bad_credentials_name_the_secret_field(partner):
    sandbox, client, calls, sleeps = partner
    bad = EchoClient(sandbox.url, "wrong-key", sleep=sleeps)
    with pytest.raises(PartnerError) as exc:
        bad.ping()
    assert exc.value.status == 401 and exc.value.field == "secret"
    assert len(sandbox.requests("/ping")) == 1  # a 401 is not retried


def test_timeouts_are_explicit(partner):
    sandbox, client, calls, sleeps = partner
    assert client.client.timeout.connect == 2 and client.client.timeout.read == 5
    sandbox.faults(latency_ms=600)
    slow = EchoClient(sandbox.url, KEY, read_timeout=0.2, sleep=sleeps, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(PartnerError) as exc:
        slow.ping()
    assert "ReadTimeout" in exc.value.message


def test_secrets_never_reach_logs_nor_records(partner, caplog):
    sandbox, client, calls, sleeps = partner
    caplog.set_level(logging.DEBUG)
    sandbox.faults(fail_next={"count": 1, "status": 500})
    client.get(f"/items/{KEY}", accept=[404])
    assert KEY not in caplog.text
    assert all(KEY not in str(c) for c in calls)
    assert calls[-1]["path"] == "/items/***" and calls[-1]["status"] == 404


def test_parse_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_httpx_sees_the_sandbox_loopback_only(echo_sandbox):
    assert echo_sandbox.url.startswith("http://127.0.0.1:")
    assert httpx.get(echo_sandbox.url + "/_sandbox/health").json()["ok"]
