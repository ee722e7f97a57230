"""Every API error is JSON with a stable code, the field at fault and a message a
person understands — whatever the kind: 400, 401, 403, 404, 405, 409, 422."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from passgate.catalog import services as catalog
from passgate.catalog.models import PointOfSale, SalesChannel
from passgate.orgs.models import Role
from passgate.orgs.services import revoke_api_token

from .conftest import Api, api_as


def _line(t, **over):
    line = {"product_id": t.cat.concert.pk, "tariff_id": t.cat.full_price.pk, "performance_id": t.cat.performance.pk}
    return line | over


def _pos_of_another_channel(t):
    web = catalog.create(t.actor, SalesChannel, code="WEB", name="Web", type="INTERNET")
    return catalog.create(t.actor, PointOfSale, channel=web, code="WEB1", name="Web site")


def _order(t, **over):
    return {"channel_id": t.cat.box_office.pk, "lines": [_line(t)]} | over


# (name, method, path, body or raw string, expected status, expected code or None, expected field or None)
BAD_REQUESTS = [
    # 422: the request does not match the schema
    ("missing field", "post", "/orders", lambda t: {"lines": [_line(t)]}, 422, "required", "channel_id"),
    ("wrong type", "post", "/orders", lambda t: _order(t, channel_id="abc"), 422, "invalid", "channel_id"),
    ("unknown enum value", "post", "/orders", lambda t: _order(t, payment_mode="GOLD"), 422, "invalid",
     "payment_mode"),
    ("nested field", "post", "/orders", lambda t: _order(t, lines=[_line(t, quantity=0)]), 422, "invalid",
     "lines[0].quantity"),
    ("no lines", "post", "/orders", lambda t: _order(t, lines=[]), 422, "invalid", "lines"),
    ("NUL in text", "post", "/contacts", lambda t: {"last_name": "a\x00b"}, 422, "invalid", "last_name"),
    ("year out of range", "post", "/catalog/performances",
     lambda t: {"product_id": t.cat.concert.pk, "code": "X", "starts_at": "0001-01-01T00:00:00+05:00",
                "ends_at": "0001-01-01T02:00:00+05:00"}, 422, "invalid", "starts_at"),
    ("bad path id", "get", "/tickets/abc", None, 422, "invalid", "id"),
    ("page too large", "get", "/tickets?limit=5000", None, 422, "invalid", "limit"),
    ("bad filter", "get", "/tickets?status=LOST", None, 422, "invalid", "status"),
    ("bad date filter", "get", "/tickets?updated_since=yesterday", None, 422, "invalid", "updated_since"),
    # 400: well-formed but refused by a rule
    ("not JSON", "post", "/orders", "{not json", 400, "invalid_json", "body"),
    ("bad cursor", "get", "/tickets?cursor=xyz", None, 400, "invalid", "cursor"),
    ("cursor beyond any key", "get", "/tickets?cursor=" + base64.urlsafe_b64encode(b"id:" + b"9" * 30).decode(), None,
     400, "invalid", "cursor"),
    ("tariff of another product", "post", "/orders",
     lambda t: _order(t, lines=[_line(t, tariff_id=t.cat.pass_tariff.pk)]), 400, "invalid", "lines[0].tariff_id"),
    ("event without performance", "post", "/orders",
     lambda t: _order(t, lines=[_line(t, performance_id=None)]), 400, "invalid", "lines[0].performance_id"),
    ("point of sale of another channel", "post", "/orders",
     lambda t: _order(t, point_of_sale_id=_pos_of_another_channel(t).pk), 400, "invalid", "point_of_sale_id"),
    ("payment mode not allowed", "post", "/orders", lambda t: _order(t, payment_mode="PENDING_ACCOUNT"), 400,
     "invalid", "payment_mode"),
    ("duplicate code", "post", "/catalog/channels", lambda t: {"code": t.cat.box_office.code, "name": "Again"}, 400,
     "duplicate", None),
    ("end before start", "post", "/catalog/performances",
     lambda t: {"product_id": t.cat.concert.pk, "code": "X", "starts_at": "2030-01-01T20:00:00Z",
                "ends_at": "2030-01-01T19:00:00Z"}, 400, "invalid", "ends_at"),
    ("performance of a pass", "post", "/catalog/performances",
     lambda t: {"product_id": t.cat.pass_product.pk, "code": "X", "starts_at": "2030-01-01T20:00:00Z",
                "ends_at": "2030-01-01T22:00:00Z"}, 400, "invalid", "product_id"),
    ("null in a patch", "patch", "/catalog/seasons/{season}", lambda t: {"code": None}, 400, "invalid", "code"),
    ("empty token name", "post", "/tokens", lambda t: {"name": " ", "role": "READ_ONLY"}, 400, "invalid", "name"),
    # 404
    ("unknown object", "get", "/tickets/987654", None, 404, "not_found", "id"),
    ("unknown id in a body", "post", "/orders", lambda t: _order(t, buyer_id=987654), 404, "not_found", "buyer_id"),
    ("unknown file number", "get", "/orders/by-file-number/nope", None, 404, "not_found", "file_number"),
    ("unknown route", "get", "/no-such-thing", None, 404, "not_found", None),
    ("unknown route, deeper", "post", "/api/v2/tickets", None, 404, "not_found", None),
    # 405
    ("method not allowed", "delete", "/tickets", None, 405, "method_not_allowed", None),
    # 409
    ("illegal transition", "post", "/tickets/{ticket}/reprint", None, 409, "illegal_transition", "status"),
    ("in use", "delete", "/catalog/channels/{channel}", None, 409, "in_use", None),
    ("sold out", "post", "/orders", lambda t: _order(t, lines=[_line(t, quantity=60)]), 409, "sold_out",
     "lines[0].quantity"),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "status", "code", "field"), BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_error_shape(mine, name, method, path, body, status, code, field):
    path = path.format(season=mine.ids["season"], ticket=mine.tickets[0].pk, channel=mine.ids["channel"])
    url = path if path.startswith("/api/") else f"/api/v1{path}"
    client = mine.api.client
    if method in ("get", "delete"):
        response = getattr(client, method)(url)
    else:
        data = body if isinstance(body, str) else json.dumps(body(mine) if body else {})
        response = getattr(client, method)(url, data=data, content_type="application/json")
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()
    assert {"code", "field", "message"} <= set(error), error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"]) > 5
    if code:
        assert error["code"] == code, error
    if field:
        assert error["field"] == field, error
    for detail in error.get("errors") or []:
        assert {"code", "field", "message"} <= set(detail)


def test_authentication_errors(mine):
    revoked_token, plaintext = mine.token, mine.api.token
    revoke_api_token(mine.actor, revoked_token)
    clients = {
        "no header": Client(),
        "not bearer": Client(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"),
        "unknown token": Client(HTTP_AUTHORIZATION="Bearer pg_unknown"),
        "revoked token": Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}"),
    }
    for label, client in clients.items():
        for method, path in (("get", "/api/v1/tickets"), ("get", "/api/v1/me"), ("post", "/api/v1/orders")):
            response = getattr(client, method)(path)
            assert response.status_code == 401, (label, path)
            error = response.json()
            assert error["code"] == "unauthenticated" and error["field"] == "Authorization" and error["message"]


def test_revoked_token_is_refused_at_once(mine):
    client = api_as(mine.actor, Role.BOX_OFFICE, name="till")
    assert client.get("/me")[0] == 200
    token_id = client.get("/me")[1]["token"]["id"]
    assert mine.api.post(f"/tokens/{token_id}/revoke")[0] == 200
    status, error = client.get("/tickets")
    assert status == 401 and error["code"] == "unauthenticated"


def test_forbidden_shape(mine):
    status, error = api_as(mine.actor, Role.READ_ONLY, name="ro").post("/catalog/seasons", {"code": "X", "name": "X"})
    assert status == 403
    assert error["code"] == "forbidden" and "field" in error and error["message"]
    assert error["expected"] and error["found"] == "READ_ONLY"


def test_validation_error_lists_every_field(api):
    status, error = api.post("/orders", {"payment_mode": "GOLD", "lines": "x"})
    assert status == 422
    fields = {d["field"] for d in error["errors"]}
    assert {"channel_id", "payment_mode", "lines"} <= fields
    assert Api  # the helper used by the other tests
