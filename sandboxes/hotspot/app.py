"""The hotspot controller's login page, stood in for: what a captive portal hands the guest to
after it has the credentials (CoovaChilli's UAM `GET http://uamip:uamport/logon?username=…&
password=…&userurl=…`). It logs the guest in over real RADIUS through FreeRADIUS (the NAS
stand-in, sandboxes.nas) and answers a small page: connected, with the limits of the
Access-Accept, or refused with its Reply-Message.

- `GET /logon?username=&password=[&mac=][&userurl=]` → 200 "You are connected" or 403 "Login
  refused: …"; the password is taken as it comes (no UAM secret), CHAP is not played here.
- State (GET /_sandbox/state): {"radius": {…}, "logins": [{"username", "code", "attributes", "at"}],
  "sessions": [usernames with an open session], "received": [Disconnect/CoA-Requests, as they came]}.
- Seed (POST /_sandbox/seed): {"radius_host", "auth_port", "acct_port", "secret", "coa_port"}; the
  demo's defaults reach `passgate radius` (127.0.0.1:18120/18130, the demo NAS secret).
"""

from __future__ import annotations

import html
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState

DEMO_RADIUS = {"radius_host": "127.0.0.1", "auth_port": 18120, "acct_port": 18130,
               "secret": "passgate-demo-radius", "coa_port": 0}


def initial() -> dict:
    return {"radius": dict(DEMO_RADIUS), "logins": []}


def _nas(state: SandboxState):
    """One NAS stand-in per configuration (it keeps the sessions it started)."""
    from sandboxes.nas import NasStandIn

    config = state.data["radius"]
    key = tuple(sorted(config.items()))
    cached = getattr(state, "nas", None)
    if cached is None or cached[0] != key:
        if cached is not None:
            cached[1].stop()
        nas = NasStandIn(config["secret"], int(config["auth_port"]), int(config["acct_port"]),
                         radius_host=config["radius_host"], coa_port=int(config.get("coa_port") or 0)).start()
        state.nas = cached = (key, nas)
    return cached[1]


def _page(title: str, body: str, status: int) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
                        f"</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status)


async def logon(request: Request):
    state: SandboxState = request.app.state.sandbox
    username = request.query_params.get("username", "")
    password = request.query_params.get("password", "")
    mac = request.query_params.get("mac") or "02-00-00-00-00-42"
    if not username:
        return _page("Login refused: no username", "", 400)
    nas = await run_in_threadpool(_nas, state)
    try:
        answer, _session = await run_in_threadpool(nas.connect, username, password, mac)
        code, attributes = answer.code, {k: [str(v) for v in vs] for k, vs in answer.attributes.items()}
    except Exception as exc:  # FreeRADIUS not answering: the page says so
        code, attributes = "Timeout", {"error": [str(exc)]}
    with state.lock:
        state.data["logins"].append({"username": username, "code": code, "attributes": attributes, "at": time.time()})
        state.save()
    items = "".join(f"<li><code>{html.escape(k)}</code> = {html.escape(', '.join(v))}</li>"
                    for k, v in attributes.items())
    if code == "Access-Accept":
        target = request.query_params.get("userurl", "")
        link = f"<p><a href='{html.escape(target)}'>Continue</a></p>" if target.startswith("http") else ""
        return _page("You are connected", f"<p id='code'>{code}</p><ul>{items}</ul>{link}", 200)
    message = ", ".join(attributes.get("Reply-Message", [])) or code
    return _page(f"Login refused: {message}", f"<p id='code'>{html.escape(code)}</p><ul>{items}</ul>", 403)


def seed(state: SandboxState, payload: dict) -> None:
    state.data["radius"].update({k: v for k, v in payload.items() if k in DEMO_RADIUS})


def inspect(state: SandboxState) -> dict:
    """The logins, plus what the NAS stand-in holds: open sessions and each Disconnect/CoA-Request
    passgate sent it."""
    cached = getattr(state, "nas", None)
    nas = cached[1] if cached else None
    return {**state.data, "sessions": sorted(s.username for s in nas.sessions.values()) if nas else [],
            "received": list(nas.received) if nas else []}


def create_app(state_file: str | None = None):
    return framework.create_app("hotspot", [Route("/logon", logon)], initial=initial, state_file=state_file,
                                seed=seed, inspect=inspect)
