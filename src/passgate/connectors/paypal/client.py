"""PayPal's REST API as passgate uses it (Orders v2, captures, webhook verification): the only module
that knows PayPal's wire format.

Why not `paypal-server-sdk`: its base URL is fixed to PayPal's two hosts (no way to point it at the
sandbox on loopback), it brings its own HTTP stack (requests + apimatic) outside passgate's partner
client (timeouts, retries, destination guard, redaction), and it has no webhook-signature call.

Idempotency: PayPal is idempotent by the `PayPal-Request-Id` header on POSTs, so order creation and
capture carry one (derived from our payment reference) and are retried like GETs; 429 and 503 are
retried after their Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from passgate.jobs.partner_http import PartnerClient, PartnerError, RetryPolicy

# Seconds kept off a token's lifetime so a call never starts with a token about to expire.
TOKEN_MARGIN = 60
# The transmission headers PayPal signs a webhook with, and their names in the verify call.
TRANSMISSION_HEADERS = {
    "paypal-auth-algo": "auth_algo",
    "paypal-cert-url": "cert_url",
    "paypal-transmission-id": "transmission_id",
    "paypal-transmission-sig": "transmission_sig",
    "paypal-transmission-time": "transmission_time",
}

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class PaypalRefused(PartnerError):
    """PayPal answered but refused the operation (422 UNPROCESSABLE_ENTITY and the like): `issue` is
    PayPal's own reason code (INSTRUMENT_DECLINED, ORDER_NOT_APPROVED, …)."""

    code = "paypal_refused"
    http_status = 402

    def __init__(self, message: str, *, issue: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.issue = issue


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    approve_url: str


@dataclass(frozen=True)
class Capture:
    """What a capture call (or GET order) says: the order's status, and the first capture's own
    status, which alone proves the payment."""

    order_id: str
    order_status: str
    capture_id: str
    capture_status: str
    reference: str
    payer_email: str
    amount: Decimal | None
    currency: str


class PaypalApi(PartnerClient):
    partner = "paypal"


def money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def parse_capture(body: dict[str, Any]) -> Capture:
    """Reads an order (as GET or capture return it); a missing capture reads as capture_status ''."""
    unit = (body.get("purchase_units") or [{}])[0]
    captures = (unit.get("payments") or {}).get("captures") or []
    capture = captures[0] if captures else {}
    amount = capture.get("amount") or unit.get("amount") or {}
    try:
        value = Decimal(str(amount["value"])) if "value" in amount else None
    except ArithmeticError:
        value = None
    return Capture(order_id=str(body.get("id", "")), order_status=str(body.get("status", "")),
                   capture_id=str(capture.get("id", "")), capture_status=str(capture.get("status", "")),
                   reference=str(unit.get("custom_id") or unit.get("reference_id") or ""),
                   payer_email=str((body.get("payer") or {}).get("email_address", "")),
                   amount=value, currency=str(amount.get("currency_code", "")))


class PaypalClient:
    """One PayPal account's API: base URL, client id and secret (plain, in memory only)."""

    def __init__(self, base_url: str, client_id: str, secret: str, *, read_timeout: float = 20.0,
                 retry: RetryPolicy | None = None, sleep=time.sleep) -> None:
        self.base_url, self.client_id, self.secret = base_url.rstrip("/"), client_id, secret
        self.api = PaypalApi(self.base_url, secrets=[secret], connect_timeout=5.0, read_timeout=read_timeout,
                             retry=retry or RetryPolicy(max_attempts=4, max_retry_after=30), sleep=sleep)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> PaypalClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ OAuth
    def token(self) -> str:
        key = (self.base_url, self.client_id)
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and cached[1] > time.monotonic():
                self.api._secrets.append(cached[0])  # redacted from logs like the secret
                return cached[0]
        response = self.api.request("POST", "/v1/oauth2/token", data={"grant_type": "client_credentials"},
                                    headers={"Authorization": _basic(self.client_id, self.secret),
                                             "Accept": "application/json"}, idempotent=True)
        body = response.json()
        token = str(body.get("access_token", ""))
        if not token:
            raise PartnerError("PayPal gave no access token", field="client_id", expected="an access_token",
                               found=str(sorted(body)))
        self.api._secrets.append(token)
        life = float(body.get("expires_in", 300))
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(0.0, life - TOKEN_MARGIN))
        return token

    def _call(self, method: str, path: str, *, request_id: str = "", accept=(), **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json",
                   "Accept": "application/json", "Prefer": "return=representation"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        response = self.api.request(method, path, headers=headers, idempotent=True if request_id else None,
                                    accept=accept, **kwargs)
        return response

    # ------------------------------------------------------------ orders
    def create_order(self, *, reference: str, amount: Decimal, currency: str, description: str,
                     return_url: str, cancel_url: str, brand_name: str = "") -> Order:
        body = {
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": reference, "custom_id": reference, "invoice_id": reference,
                "description": description[:127],
                "amount": {"currency_code": currency, "value": money(amount)},
            }],
            "payment_source": {"paypal": {"experience_context": {
                "return_url": return_url, "cancel_url": cancel_url, "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING", **({"brand_name": brand_name[:127]} if brand_name else {}),
            }}},
        }
        data = self._call("POST", "/v2/checkout/orders", json=body, request_id=f"{reference}-order").json()
        approve = next((link.get("href", "") for link in data.get("links", [])
                        if link.get("rel") in ("payer-action", "approve")), "")
        if not data.get("id") or not approve:
            raise PartnerError("PayPal created no order to approve", field="url",
                               expected="an order id and its approve link", found=json.dumps(data)[:200])
        return Order(id=str(data["id"]), status=str(data.get("status", "")), approve_url=approve)

    def get_order(self, order_id: str) -> Capture:
        return parse_capture(self._call("GET", f"/v2/checkout/orders/{order_id}").json())

    def capture_order(self, order_id: str, *, request_id: str) -> Capture:
        response = self._call("POST", f"/v2/checkout/orders/{order_id}/capture", json={}, request_id=request_id,
                              accept=(422,))
        body = response.json()
        if response.status_code == 422:
            issue = ((body.get("details") or [{}])[0]).get("issue", "") or str(body.get("name", ""))
            if issue == "ORDER_ALREADY_CAPTURED":  # a capture lost on the way back: read it from the order
                return self.get_order(order_id)
            raise PaypalRefused(f"PayPal refused to capture order {order_id}: {issue or 'unprocessable'}",
                                status=422, issue=issue, field="order", expected="an approved order",
                                found=issue)
        return parse_capture(body)

    def refund_capture(self, capture_id: str, *, request_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v2/payments/captures/{capture_id}/refund", json={},
                          request_id=request_id).json()

    # ------------------------------------------------------------ webhooks
    def verify_webhook(self, headers: dict[str, str], webhook_id: str, raw_event: bytes) -> bool:
        """Asks PayPal whether this webhook is genuine. The event goes back byte for byte as received
        (a re-encoded event would not match its signature)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        fields = {name: lowered.get(header, "") for header, name in TRANSMISSION_HEADERS.items()}
        fields["webhook_id"] = webhook_id
        head = json.dumps(fields)[:-1].encode()
        content = head + b', "webhook_event": ' + raw_event + b"}"
        token = self.token()
        response = self.api.request("POST", "/v1/notifications/verify-webhook-signature", content=content,
                                    headers={"Authorization": f"Bearer {token}",
                                             "Content-Type": "application/json"}, idempotent=True)
        return response.json().get("verification_status") == "SUCCESS"


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()
