"""A small framework for partner stand-ins: Starlette apps served by uvicorn on
127.0.0.1, with `/_sandbox/*` control endpoints to seed data, inspect state,
reset, and inject faults.

Faults (POST /_sandbox/faults, JSON; DELETE clears them all):
- `latency_ms`: added to every partner call;
- `error_rate` (0..1) with `error_status` (default 500): random failures;
- `down`: true → every partner call answers 503 (with `retry_after` if set);
- `rate_limit`: {"count": n, "retry_after": s} → the next n calls answer 429 + Retry-After;
- `fail_next`: {"count": n, "status": 503, "retry_after": s?} → the next n calls fail;
- `drop_next`: n → the next n calls have their connection dropped mid-answer;
- `partial`: {"ids": [...], "rate": 0..1} → batch items refused (partner-specific).

Every partner call is logged in the state (method, path, the fault applied),
so tests can count what really reached the partner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    down: bool = False
    retry_after: float | None = None
    rate_limit_count: int = 0
    rate_limit_retry_after: float = 1
    fail_next_count: int = 0
    fail_next_status: int = 503
    fail_next_retry_after: float | None = None
    drop_next: int = 0
    partial_ids: set = field(default_factory=set)
    partial_rate: float = 0.0

    def update(self, data: dict[str, Any]) -> None:
        known = {"latency_ms", "error_rate", "error_status", "down", "retry_after", "rate_limit", "fail_next",
                 "drop_next", "partial"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(known)}")
        if "latency_ms" in data:
            self.latency_ms = int(data["latency_ms"])
        if "error_rate" in data:
            self.error_rate = float(data["error_rate"])
        if "error_status" in data:
            self.error_status = int(data["error_status"])
        if "down" in data:
            self.down = bool(data["down"])
        if "retry_after" in data:
            self.retry_after = data["retry_after"]
        if "rate_limit" in data:
            self.rate_limit_count = int(data["rate_limit"].get("count", 1))
            self.rate_limit_retry_after = float(data["rate_limit"].get("retry_after", 1))
        if "fail_next" in data:
            self.fail_next_count = int(data["fail_next"].get("count", 1))
            self.fail_next_status = int(data["fail_next"].get("status", 503))
            self.fail_next_retry_after = data["fail_next"].get("retry_after")
        if "drop_next" in data:
            self.drop_next = int(data["drop_next"])
        if "partial" in data:
            self.partial_ids = {str(i) for i in data["partial"].get("ids", [])}
            self.partial_rate = float(data["partial"].get("rate", 0))

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "error_status": self.error_status,
                "down": self.down, "retry_after": self.retry_after,
                "rate_limit": {"count": self.rate_limit_count, "retry_after": self.rate_limit_retry_after},
                "fail_next": {"count": self.fail_next_count, "status": self.fail_next_status,
                              "retry_after": self.fail_next_retry_after},
                "drop_next": self.drop_next,
                "partial": {"ids": sorted(self.partial_ids), "rate": self.partial_rate}}

    def refuses(self, item_id: Any) -> bool:
        """For partner batch endpoints: should this item be refused?"""
        return str(item_id) in self.partial_ids or (self.partial_rate > 0 and random.random() < self.partial_rate)


class SandboxState:
    """Partner data (`data`, persisted to a file if one is given), the request log and the faults."""

    def __init__(self, initial: Callable[[], dict[str, Any]], path: str | None = None) -> None:
        self._initial = initial
        self.path = Path(path) if path else None
        self.lock = threading.RLock()
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self.data: dict[str, Any] = initial()
        if self.path and self.path.exists():
            self.data.update(json.loads(self.path.read_text()))

    def save(self) -> None:
        if self.path:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, default=str))
            tmp.replace(self.path)

    def reset(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.requests = []
            self.data = self._initial()
            self.save()


async def _drop_connection(send) -> None:
    """Start an answer announcing a body, then stop: uvicorn closes the connection mid-answer."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})


class FaultMiddleware:
    """Applies the faults to partner calls (never to /_sandbox/*) and logs them."""

    def __init__(self, app, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        state = self.state
        faults = state.faults
        entry = {"method": scope["method"], "path": scope["path"], "at": time.time(), "fault": None}
        with state.lock:
            state.requests.append(entry)
            if faults.drop_next > 0:
                faults.drop_next -= 1
                entry["fault"] = "dropped"
            elif faults.rate_limit_count > 0:
                faults.rate_limit_count -= 1
                entry["fault"] = "429"
            elif faults.fail_next_count > 0:
                faults.fail_next_count -= 1
                entry["fault"] = f"fail:{faults.fail_next_status}"
            elif faults.down:
                entry["fault"] = "down"
            elif faults.error_rate and random.random() < faults.error_rate:
                entry["fault"] = f"error:{faults.error_status}"
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        fault = entry["fault"]
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault == "dropped":
            await _drop_connection(send)
            return
        headers = {}
        if fault == "429":
            status, retry_after = 429, faults.rate_limit_retry_after
        elif fault.startswith("fail:"):
            status, retry_after = int(fault[5:]), faults.fail_next_retry_after
        elif fault == "down":
            status, retry_after = 503, faults.retry_after
        else:
            status, retry_after = int(fault.split(":")[1]), None
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        response = JSONResponse({"error": "sandbox fault", "fault": fault}, status_code=status, headers=headers)
        await response(scope, receive, send)


def create_app(name: str, routes: list[Route], *, initial: Callable[[], dict[str, Any]] = dict,
               state_file: str | None = None, seed: Callable[[SandboxState, dict], None] | None = None,
               inspect: Callable[[SandboxState], dict] | None = None):
    """A sandbox app: the partner's `routes` (handlers find the state in
    `request.app.state.sandbox`) plus the control endpoints."""
    state = SandboxState(initial, state_file)

    async def control_state(request: Request) -> Response:
        with state.lock:
            body = {"name": name, "faults": state.faults.as_dict(), "requests": list(state.requests),
                    "data": inspect(state) if inspect else state.data}
        return JSONResponse(json.loads(json.dumps(body, default=str)))

    async def control_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def control_seed(request: Request) -> Response:
        payload = await request.json()
        with state.lock:
            if seed:
                seed(state, payload)
            else:
                state.data.update(payload)
            state.save()
        return JSONResponse({"seeded": True})

    async def control_faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults = Faults()
            return JSONResponse(state.faults.as_dict())
        try:
            state.faults.update(await request.json())
        except (ValueError, AttributeError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.faults.as_dict())

    async def health(request: Request) -> Response:
        return JSONResponse({"name": name, "ok": True})

    control = [
        Route("/_sandbox/health", health),
        Route("/_sandbox/state", control_state),
        Route("/_sandbox/reset", control_reset, methods=["POST"]),
        Route("/_sandbox/seed", control_seed, methods=["POST"]),
        Route("/_sandbox/faults", control_faults, methods=["POST", "DELETE", "GET"]),
    ]
    app = Starlette(routes=control + routes)
    app.state.sandbox = state
    app.add_middleware(FaultMiddleware, state=state)
    return app


# ---------------------------------------------------------------- serving

def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve(app, port: int, host: str = HOST) -> None:
    """Serve in the foreground (the `passgate sandbox` command). Loopback only."""
    import uvicorn

    if host not in {"127.0.0.1", "::1", "localhost"}:
        raise ValueError("sandboxes listen on the loopback interface only")
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")


@dataclass
class RunningSandbox:
    name: str
    url: str
    app: Any
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.app.state.sandbox

    def stop(self) -> None:
        for hook in getattr(self.app.state, "stop_hooks", ()):  # a sandbox's own listeners (pms: FIAS TCP)
            hook()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def start_in_thread(name: str, port: int = 0, **options: Any) -> RunningSandbox:
    """Start sandbox `name` on 127.0.0.1 in a background thread; port 0 = a free one."""
    import uvicorn

    from .registry import create_sandbox_app

    app = create_sandbox_app(name, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="off",
                            timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{name}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox {name} did not start")
        time.sleep(0.01)
    return RunningSandbox(name=name, url=f"http://{HOST}:{port}", app=app, _server=server, _thread=thread)


def start_subprocess(name: str, port: int | None = None, state_file: str | None = None):
    """Start `passgate sandbox NAME` as a process; returns (Popen, url) once it answers."""
    import subprocess
    import sys
    import urllib.request

    port = port or free_port()
    cmd = [sys.executable, "-m", "sandboxes", name, "--port", str(port)]
    if state_file:
        cmd += ["--state-file", state_file]
    proc = subprocess.Popen(cmd)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url + "/_sandbox/health", timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"sandbox {name} did not start on port {port}") from None
            time.sleep(0.1)
