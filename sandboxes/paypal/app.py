"""The PayPal stand-in (REST API, Orders v2), enough for passgate's WiFi purchases:

- `POST /v1/oauth2/token` (HTTP Basic client id/secret, form grant_type=client_credentials) → a bearer token;
- `POST /v2/checkout/orders` (intent CAPTURE; idempotent by `PayPal-Request-Id`) → 201 with a
  `payer-action` link to `/checkoutnow?token=<order id>`; `GET /v2/checkout/orders/{id}`;
- `GET /checkoutnow?token=…`: the approval page, an "Approve" link (→ the order's return_url
  `?token=…&PayerID=…`) and a "Cancel" link (→ its cancel_url `?token=…`);
- `POST /v2/checkout/orders/{id}/capture` (idempotent by `PayPal-Request-Id`): 422 ORDER_NOT_APPROVED
  before approval, 422 ORDER_ALREADY_CAPTURED for a second capture; the capture's status is the seeded
  `capture_status` (COMPLETED by default; DECLINED or PENDING for the faults) while the order says
  COMPLETED whatever it is — the trap passgate must not fall into;
- `POST /v2/payments/captures/{id}/refund`;
- `POST /v1/notifications/verify-webhook-signature` → {"verification_status": "SUCCESS" | "FAILURE"}.

Webhooks: signed with an HMAC-SHA256 of the sandbox's own key over
`transmission_id|transmission_time|webhook_id|crc32(body)` (PayPal's shape, with an HMAC standing in for
PayPal's certificate), checked only by verify-webhook-signature, as PayPal does.
`POST /_sandbox/webhooks {"order_id", "event": COMPLETED|DENIED|REFUNDED|REVERSED, "times": 1,
"bad_signature": false, "url": optional}` builds the event (updating the capture accordingly), POSTs it
`times` times to `url` or the seeded `webhook_url` when there is one, and answers the deliveries
(headers, body, the receiver's status) so a test may also post them itself.
With `auto_webhooks` seeded true (the demo), a capture and a refund send their webhook by themselves.

Seed: {"clients": {id: secret}, "payer_email", "webhook_url", "webhook_id", "capture_status",
"auto_webhooks", "signing_key"}. Faults: the framework's (429, 5xx, slow, down) on every PayPal call.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import html
import json
import os
import secrets
import uuid
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState

DEFAULT_CLIENT = ("passgate-client", "passgate-secret")
def demo_webhook_url() -> str:
    """The demo's passgate (`passgate demo` exports its address to the processes it starts)."""
    base = os.environ.get("PASSGATE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/paypal/webhooks/demo/"
CAPTURE_STATUSES = {"COMPLETED", "DECLINED", "PENDING"}


def initial() -> dict:
    return {"clients": {DEFAULT_CLIENT[0]: DEFAULT_CLIENT[1]}, "payer_email": "buyer@example.com",
            "webhook_url": "", "webhook_id": "WH-SANDBOX-1", "capture_status": "COMPLETED",
            "auto_webhooks": False, "signing_key": "paypal-sandbox-signing-key",
            "tokens": {}, "orders": {}, "requests_seen": {}, "captures": {}, "refunds": {}, "webhooks": []}


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, name: str, issue: str = "", message: str = "") -> JSONResponse:
    body = {"name": name, "message": message or name, "debug_id": secrets.token_hex(6)}
    if issue:
        body["details"] = [{"issue": issue, "description": message or issue}]
    return JSONResponse(body, status_code=status)


def _authorised(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    return header.startswith("Bearer ") and header[7:] in _state(request).data["tokens"]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# ---------------------------------------------------------------- OAuth

async def token(request: Request):
    state = _state(request)
    header = request.headers.get("authorization", "")
    try:
        client_id, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        client_id, secret = "", ""
    if not header.startswith("Basic ") or state.data["clients"].get(client_id) != secret or not secret:
        return JSONResponse({"error": "invalid_client", "error_description": "Client Authentication failed"},
                            status_code=401)
    form = parse_qs((await request.body()).decode(errors="replace"))  # no python-multipart needed
    if form.get("grant_type") != ["client_credentials"]:
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    access = "A21." + secrets.token_urlsafe(24)
    with state.lock:
        state.data["tokens"][access] = client_id
        state.save()
    return JSONResponse({"scope": "https://uri.paypal.com/services/payments", "access_token": access,
                         "token_type": "Bearer", "app_id": "APP-SANDBOX", "expires_in": 32400,
                         "nonce": secrets.token_hex(8)})


# ---------------------------------------------------------------- orders

def _order_view(request: Request, order: dict) -> dict:
    base = _base(request)
    view = {key: order[key] for key in ("id", "intent", "status", "create_time")}
    unit = dict(order["unit"])
    if order.get("capture_id"):
        capture = _state(request).data["captures"][order["capture_id"]]
        unit["payments"] = {"captures": [_capture_view(request, capture)]}
    view["purchase_units"] = [unit]
    if order["status"] in ("APPROVED", "COMPLETED"):
        view["payer"] = {"email_address": order["payer_email"], "payer_id": order["payer_id"],
                         "name": {"given_name": "Sandbox", "surname": "Buyer"}}
    view["links"] = [{"href": f"{base}/v2/checkout/orders/{order['id']}", "rel": "self", "method": "GET"}]
    if order["status"] == "PAYER_ACTION_REQUIRED":
        view["links"].append({"href": f"{base}/checkoutnow?token={order['id']}", "rel": "payer-action",
                              "method": "GET"})
    return view


def _capture_view(request: Request, capture: dict) -> dict:
    base = _base(request)
    return {"id": capture["id"], "status": capture["status"], "amount": capture["amount"],
            "custom_id": capture["custom_id"], "invoice_id": capture["custom_id"], "final_capture": True,
            "create_time": capture["create_time"],
            "supplementary_data": {"related_ids": {"order_id": capture["order_id"]}},
            "links": [{"href": f"{base}/v2/payments/captures/{capture['id']}", "rel": "self", "method": "GET"},
                      {"href": f"{base}/v2/checkout/orders/{capture['order_id']}", "rel": "up", "method": "GET"}]}


async def create_order(request: Request):
    if not _authorised(request):
        return _error(401, "AUTHENTICATION_FAILURE")
    state = _state(request)
    request_id = request.headers.get("paypal-request-id", "")
    try:
        body = await request.json()
        unit = body["purchase_units"][0]
        amount = unit["amount"]
        value, currency = str(amount["value"]), str(amount["currency_code"])
        float(value)
    except (ValueError, KeyError, TypeError, IndexError):
        return _error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER", "purchase_units[0].amount expected")
    if body.get("intent") != "CAPTURE":
        return _error(422, "UNPROCESSABLE_ENTITY", "INTENT_NOT_SUPPORTED", "this sandbox captures only")
    context = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context") \
        or body.get("application_context") or {}
    with state.lock:
        if request_id and request_id in state.data["requests_seen"]:
            order = state.data["orders"][state.data["requests_seen"][request_id]]
            return JSONResponse(_order_view(request, order), status_code=200)
        order_id = secrets.token_hex(8).upper() + "PP"
        order = {"id": order_id, "intent": "CAPTURE", "status": "PAYER_ACTION_REQUIRED", "create_time": _now(),
                 "unit": {"reference_id": unit.get("reference_id", "default"), "custom_id": unit.get("custom_id", ""),
                          "invoice_id": unit.get("invoice_id", ""), "description": unit.get("description", ""),
                          "amount": {"currency_code": currency, "value": value}},
                 "return_url": context.get("return_url", ""), "cancel_url": context.get("cancel_url", ""),
                 "brand_name": context.get("brand_name", ""), "payer_email": "", "payer_id": "",
                 "capture_id": "", "capture_request": ""}
        state.data["orders"][order_id] = order
        if request_id:
            state.data["requests_seen"][request_id] = order_id
        state.save()
    return JSONResponse(_order_view(request, order), status_code=201)


async def get_order(request: Request):
    if not _authorised(request):
        return _error(401, "AUTHENTICATION_FAILURE")
    order = _state(request).data["orders"].get(request.path_params["id"])
    if order is None:
        return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
    return JSONResponse(_order_view(request, order))


async def checkout_page(request: Request):
    order = _state(request).data["orders"].get(request.query_params.get("token", ""))
    if order is None:
        return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
    oid = html.escape(order["id"])
    unit = order["unit"]
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>PayPal sandbox — approve</title></head><body>"
        f"<h1>PayPal sandbox</h1><p>{html.escape(order['brand_name'])}: {html.escape(unit['description'])}</p>"
        f"<p>Pay <strong id='amount'>{html.escape(unit['amount']['value'])} "
        f"{html.escape(unit['amount']['currency_code'])}</strong> as "
        f"{html.escape(_state(request).data['payer_email'])}</p>"
        f"<p><a id='approve' role='button' href='/checkoutnow/approve?token={oid}'>Approve</a></p>"
        f"<p><a id='cancel' href='/checkoutnow/cancel?token={oid}'>Cancel and return</a></p></body></html>")


def _redirect(url: str, **params: str) -> RedirectResponse:
    return RedirectResponse(url + ("&" if "?" in url else "?") + urlencode(params), status_code=302)


async def approve(request: Request):
    state = _state(request)
    with state.lock:
        order = state.data["orders"].get(request.query_params.get("token", ""))
        if order is None:
            return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
        if order["status"] == "PAYER_ACTION_REQUIRED":
            order.update(status="APPROVED", payer_email=state.data["payer_email"],
                         payer_id=secrets.token_hex(6).upper())
            state.save()
    return _redirect(order["return_url"], token=order["id"], PayerID=order["payer_id"])


async def cancel(request: Request):
    order = _state(request).data["orders"].get(request.query_params.get("token", ""))
    if order is None:
        return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
    return _redirect(order["cancel_url"], token=order["id"])


async def capture_order(request: Request):
    if not _authorised(request):
        return _error(401, "AUTHENTICATION_FAILURE")
    state = _state(request)
    request_id = request.headers.get("paypal-request-id", "")
    with state.lock:
        order = state.data["orders"].get(request.path_params["id"])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            if request_id and request_id == order["capture_request"]:
                return JSONResponse(_order_view(request, order), status_code=201)
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED", "the payer has not approved the order")
        capture_id = secrets.token_hex(8).upper() + "CP"
        state.data["captures"][capture_id] = {
            "id": capture_id, "order_id": order["id"], "status": state.data["capture_status"],
            "amount": order["unit"]["amount"], "custom_id": order["unit"]["custom_id"], "create_time": _now()}
        order.update(status="COMPLETED", capture_id=capture_id, capture_request=request_id)
        state.save()
        view = _order_view(request, order)
    if state.data["auto_webhooks"] and state.data["webhook_url"]:
        kind = {"COMPLETED": "COMPLETED", "DECLINED": "DENIED"}.get(state.data["capture_status"])
        if kind:
            await _send(request, _event(request, order["id"], kind), state.data["webhook_url"], 1, False)
    return JSONResponse(view, status_code=201)


async def refund(request: Request):
    if not _authorised(request):
        return _error(401, "AUTHENTICATION_FAILURE")
    state = _state(request)
    with state.lock:
        capture = state.data["captures"].get(request.path_params["id"])
        if capture is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if capture["status"] != "COMPLETED":
            return _error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED" if capture["status"] == "REFUNDED"
                          else "INVALID_CAPTURE_STATUS")
    event = _event(request, capture["order_id"], "REFUNDED")
    if state.data["auto_webhooks"] and state.data["webhook_url"]:
        await _send(request, event, state.data["webhook_url"], 1, False)
    return JSONResponse(event["resource"], status_code=201)


# ---------------------------------------------------------------- webhooks

def signature(key: str, transmission_id: str, when: str, webhook_id: str, body: bytes) -> str:
    message = f"{transmission_id}|{when}|{webhook_id}|{binascii.crc32(body)}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def _event(request: Request, order_id: str, kind: str) -> dict:
    """Builds the event for `kind` on this order, moving the capture to the state it announces."""
    state = _state(request)
    base = _base(request)
    with state.lock:
        order = state.data["orders"].get(order_id)
        if order is None:
            raise KeyError(order_id)
        capture = state.data["captures"].get(order["capture_id"])
        if kind == "REVERSED":
            event_type, resource_type = "CHECKOUT.PAYMENT-APPROVAL.REVERSED", "checkout-order"
            resource = {"order_id": order_id, "purchase_units": [{"reference_id": order["unit"]["reference_id"],
                                                                  "custom_id": order["unit"]["custom_id"]}],
                        "payer": {"email_address": order["payer_email"]}}
        elif capture is None:
            raise ValueError(f"order {order_id} has no capture for a {kind} event")
        elif kind in ("COMPLETED", "DENIED"):
            capture["status"] = "COMPLETED" if kind == "COMPLETED" else "DECLINED"
            event_type, resource_type = f"PAYMENT.CAPTURE.{kind}", "capture"
            resource = _capture_view(request, capture)
        elif kind == "REFUNDED":
            capture["status"] = "REFUNDED"
            refund_id = secrets.token_hex(8).upper() + "RF"
            resource = {"id": refund_id, "status": "COMPLETED", "amount": capture["amount"],
                        "custom_id": capture["custom_id"], "invoice_id": capture["custom_id"], "create_time": _now(),
                        "links": [{"href": f"{base}/v2/payments/refunds/{refund_id}", "rel": "self",
                                   "method": "GET"},
                                  {"href": f"{base}/v2/payments/captures/{capture['id']}", "rel": "up",
                                   "method": "GET"}]}
            state.data["refunds"][refund_id] = {"capture_id": capture["id"]}
            event_type, resource_type = "PAYMENT.CAPTURE.REFUNDED", "refund"
        else:
            raise ValueError(f"unknown event {kind!r}; known: COMPLETED, DENIED, REFUNDED, REVERSED")
        state.save()
    return {"id": "WH-" + secrets.token_hex(10).upper(), "event_version": "1.0", "create_time": _now(),
            "resource_type": resource_type, "resource_version": "2.0", "event_type": event_type,
            "summary": f"{event_type} for order {order_id}", "resource": resource}


def _deliveries(request: Request, event: dict, times: int, bad_signature: bool) -> list[dict]:
    state = _state(request)
    body = json.dumps(event).encode()
    out = []
    for _ in range(times):
        transmission_id, when = str(uuid.uuid4()), _now()
        key = "forged-key" if bad_signature else state.data["signing_key"]
        headers = {"PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": when,
                   "PAYPAL-TRANSMISSION-SIG": signature(key, transmission_id, when, state.data["webhook_id"], body),
                   "PAYPAL-CERT-URL": f"{_base(request)}/v1/notifications/certs/CERT-SANDBOX",
                   "PAYPAL-AUTH-ALGO": "SHA256withRSA", "Content-Type": "application/json"}
        out.append({"headers": headers, "body": body.decode()})
    return out


async def _send(request: Request, event: dict, url: str, times: int, bad_signature: bool) -> list[dict]:
    deliveries = _deliveries(request, event, times, bad_signature)
    if url:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, connect=5)) as client:
            for delivery in deliveries:
                try:
                    answer = await client.post(url, content=delivery["body"].encode(), headers=delivery["headers"])
                    delivery["status"] = answer.status_code
                except httpx.HTTPError as exc:
                    delivery["status"] = None
                    delivery["error"] = f"{type(exc).__name__}: {exc}"
    state = _state(request)
    with state.lock:
        for delivery in deliveries:
            state.data["webhooks"].append({"event_id": event["id"], "event_type": event["event_type"], "url": url,
                                           "status": delivery.get("status"), "bad_signature": bad_signature})
        state.save()
    return deliveries


async def trigger_webhook(request: Request):
    """Control: send (or only build) a webhook event for an order."""
    state = _state(request)
    try:
        payload = await request.json()
        order_id, kind = str(payload["order_id"]), str(payload.get("event", "COMPLETED")).upper()
        times = int(payload.get("times", 1))
        event = _event(request, order_id, kind)
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": f"expected {{order_id, event}} of a captured order: {exc}"}, status_code=400)
    url = payload.get("url", state.data["webhook_url"]) if payload.get("deliver", True) else ""
    deliveries = await _send(request, event, url, times, bool(payload.get("bad_signature")))
    return JSONResponse({"event": event, "deliveries": deliveries})


async def verify_signature(request: Request):
    if not _authorised(request):
        return _error(401, "AUTHENTICATION_FAILURE")
    state = _state(request)
    try:
        body = await request.json()
        fields = {name: str(body[name]) for name in ("auth_algo", "cert_url", "transmission_id", "transmission_sig",
                                                      "transmission_time", "webhook_id")}
        event = body["webhook_event"]
    except (ValueError, KeyError, TypeError):
        return _error(400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER")
    expected = signature(state.data["signing_key"], fields["transmission_id"], fields["transmission_time"],
                         fields["webhook_id"], json.dumps(event).encode())
    good = fields["webhook_id"] == state.data["webhook_id"] and hmac.compare_digest(expected,
                                                                                   fields["transmission_sig"])
    return JSONResponse({"verification_status": "SUCCESS" if good else "FAILURE"})


def seed(state: SandboxState, payload: dict) -> None:
    known = {"clients", "payer_email", "webhook_url", "webhook_id", "capture_status", "auto_webhooks", "signing_key"}
    unknown = set(payload) - known
    if unknown:
        raise ValueError(f"unknown seed keys {sorted(unknown)}; known: {sorted(known)}")
    if "capture_status" in payload and payload["capture_status"] not in CAPTURE_STATUSES:
        raise ValueError(f"capture_status: one of {sorted(CAPTURE_STATUSES)}")
    state.data.update(payload)


def create_app(state_file: str | None = None, demo: bool = False):
    routes = [
        Route("/v1/oauth2/token", token, methods=["POST"]),
        Route("/v2/checkout/orders", create_order, methods=["POST"]),
        Route("/v2/checkout/orders/{id}", get_order),
        Route("/v2/checkout/orders/{id}/capture", capture_order, methods=["POST"]),
        Route("/v2/payments/captures/{id}/refund", refund, methods=["POST"]),
        Route("/v1/notifications/verify-webhook-signature", verify_signature, methods=["POST"]),
        Route("/checkoutnow", checkout_page),
        Route("/checkoutnow/approve", approve),
        Route("/checkoutnow/cancel", cancel),
        Route("/_sandbox/webhooks", trigger_webhook, methods=["POST"]),
    ]
    app = framework.create_app("paypal", routes, initial=initial, state_file=state_file, seed=seed)
    if demo:  # passgate's demo on its default port; its PayPal account for all locations, by org code
        app.state.sandbox.data.update(auto_webhooks=True, webhook_url=demo_webhook_url())
    return app
