"""The echo partner: the smallest partner that exercises the framework.

- every call needs `X-Api-Key` equal to the seeded key (default `echo-key`), else 401;
- `GET /ping` → {"ok": true, "partner": "echo"};
- `POST /echo` → {"received": <body>, "count": n} (not idempotent: each call counts);
- `PUT /items/{id}` (idempotent store), `GET /items/{id}` (404 when unknown);
- `POST /batch {"items": [{"id", ...}]}` → {"results": [{"id", "status": ACCEPTED | ALREADY | REJECTED,
  "error"?}]}; idempotent by id; the `partial` fault refuses chosen ids.

Seed: POST /_sandbox/seed {"api_key": "...", "items": {...}}.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState


def initial() -> dict:
    return {"api_key": "echo-key", "items": {}, "echo_count": 0}


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _denied(request: Request) -> JSONResponse | None:
    if request.headers.get("x-api-key") != _state(request).data["api_key"]:
        return JSONResponse({"error": "bad API key"}, status_code=401)
    return None


async def ping(request: Request):
    return _denied(request) or JSONResponse({"ok": True, "partner": "echo"})


async def echo(request: Request):
    if denied := _denied(request):
        return denied
    body = await request.json() if await request.body() else None
    state = _state(request)
    with state.lock:
        state.data["echo_count"] += 1
        count = state.data["echo_count"]
        state.save()
    return JSONResponse({"received": body, "count": count})


async def item(request: Request):
    if denied := _denied(request):
        return denied
    state = _state(request)
    key = request.path_params["id"]
    if request.method == "PUT":
        body = await request.json()
        with state.lock:
            created = key not in state.data["items"]
            state.data["items"][key] = body
            state.save()
        return JSONResponse({"id": key, "created": created}, status_code=201 if created else 200)
    found = state.data["items"].get(key)
    if found is None:
        return JSONResponse({"error": "unknown item"}, status_code=404)
    return JSONResponse({"id": key, "item": found})


async def batch(request: Request):
    if denied := _denied(request):
        return denied
    state = _state(request)
    try:
        items = (await request.json())["items"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected {\"items\": [...]}"}, status_code=400)
    results = []
    with state.lock:
        for entry in items:
            key = str(entry.get("id"))
            if state.faults.refuses(key):
                results.append({"id": entry.get("id"), "status": "REJECTED", "error": "refused by the partner"})
            elif key in state.data["items"]:
                results.append({"id": entry.get("id"), "status": "ALREADY"})
            else:
                state.data["items"][key] = entry
                results.append({"id": entry.get("id"), "status": "ACCEPTED"})
        state.save()
    return JSONResponse({"results": results})


def seed(state: SandboxState, payload: dict) -> None:
    if "api_key" in payload:
        state.data["api_key"] = payload["api_key"]
    state.data["items"].update(payload.get("items", {}))


def create_app(state_file: str | None = None):
    routes = [
        Route("/ping", ping),
        Route("/echo", echo, methods=["POST"]),
        Route("/items/{id}", item, methods=["GET", "PUT"]),
        Route("/batch", batch, methods=["POST"]),
    ]
    return framework.create_app("echo", routes, initial=initial, state_file=state_file, seed=seed)
