"""The SMS gateway stand-in: records every message so tests (and the demo) can read what was sent.

- every call needs `X-Api-Key` equal to the seeded key (default `sms-key`), else 401;
- `POST /messages {"to": "+33612345678", "from": "passgate", "text": "…"}` → 201 {"id": "m1", "status": "QUEUED"};
  a `to` that is not E.164 (+ and 8–15 digits) → 400 {"error": …}; an empty text → 400;
- `GET /messages/{id}` → the message, 404 when unknown.

State (GET /_sandbox/state): {"messages": [{"id", "to", "from", "text", "at"}], …}.
Seed: POST /_sandbox/seed {"api_key": "…"}.
"""

from __future__ import annotations

import re
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState

E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def initial() -> dict:
    return {"api_key": "sms-key", "messages": []}


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def send(request: Request):
    state = _state(request)
    if request.headers.get("x-api-key") != state.data["api_key"]:
        return JSONResponse({"error": "bad API key"}, status_code=401)
    try:
        body = await request.json()
        to, text = str(body["to"]), str(body["text"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'expected {"to", "text"}'}, status_code=400)
    if not E164.match(to):
        return JSONResponse({"error": f"not an E.164 number: {to!r}"}, status_code=400)
    if not text:
        return JSONResponse({"error": "empty text"}, status_code=400)
    with state.lock:
        message_id = f"m{len(state.data['messages']) + 1}"
        state.data["messages"].append({"id": message_id, "to": to, "from": str(body.get("from", "")), "text": text,
                                       "at": time.time()})
        state.save()
    return JSONResponse({"id": message_id, "status": "QUEUED"}, status_code=201)


async def get_message(request: Request):
    state = _state(request)
    if request.headers.get("x-api-key") != state.data["api_key"]:
        return JSONResponse({"error": "bad API key"}, status_code=401)
    for message in state.data["messages"]:
        if message["id"] == request.path_params["id"]:
            return JSONResponse(message)
    return JSONResponse({"error": "unknown message"}, status_code=404)


def seed(state: SandboxState, payload: dict) -> None:
    if "api_key" in payload:
        state.data["api_key"] = payload["api_key"]


def create_app(state_file: str | None = None):
    routes = [Route("/messages", send, methods=["POST"]), Route("/messages/{id}", get_message)]
    return framework.create_app("sms", routes, initial=initial, state_file=state_file, seed=seed)
