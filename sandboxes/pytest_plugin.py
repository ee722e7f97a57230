"""pytest fixtures for sandboxes (registered from tests/conftest.py with
`pytest_plugins = ["sandboxes.pytest_plugin"]`).

    def test_x(sandbox):
        echo = sandbox("echo")            # started on a free loopback port, stopped after the test
        echo.faults(rate_limit={"count": 1, "retry_after": 1})
        echo.state()["requests"]

`echo_sandbox` is a ready-made echo partner.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .framework import RunningSandbox, start_in_thread


class SandboxHandle:
    """A running sandbox seen from a test: its URL and its control endpoints."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.name = running.name
        self.url = running.url
        self.control = httpx.Client(base_url=running.url + "/_sandbox", timeout=10)

    def faults(self, **faults: Any) -> dict:
        response = self.control.post("/faults", json=faults)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        self.control.delete("/faults").raise_for_status()

    def seed(self, **data: Any) -> None:
        self.control.post("/seed", json=data).raise_for_status()

    def state(self) -> dict:
        return self.control.get("/state").json()

    def requests(self, path: str | None = None) -> list[dict]:
        log = self.state()["requests"]
        return [r for r in log if path is None or r["path"] == path]

    def reset(self) -> None:
        self.control.post("/reset").raise_for_status()

    def stop(self) -> None:
        self.control.close()
        self.running.stop()


@pytest.fixture
def sandbox():
    """Factory: sandbox("echo", port=0, state_file=None) → SandboxHandle, stopped after the test."""
    started: list[SandboxHandle] = []

    def start(name: str, port: int = 0, **options: Any) -> SandboxHandle:
        handle = SandboxHandle(start_in_thread(name, port, **options))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def echo_sandbox(sandbox) -> SandboxHandle:
    return sandbox("echo")
