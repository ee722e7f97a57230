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


# ---------------------------------------------------------------- what an outside integrator sent

def _post_raw(mine, path: str, raw: str | bytes):
    return mine.api.client.post(f"/api/v1{path}", data=raw, content_type="application/json")


def _error(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()
    assert {"code", "field", "message", "expected", "found"} <= set(error), error
    assert error["field"] == field, error
    return error


@pytest.mark.parametrize(("path", "raw", "field"), [
    ("/contacts", '{"first_name": "\\ud800", "last_name": "Lovelace"}', "first_name"),
    ("/contacts", '{"last_name": "Love\\udfffl"}', "last_name"),
    ("/orders", '{"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1, "note": "\\ud800"}]}',
     "lines[0].note"),
    ("/orders", '{"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1}, {"seat": "A\\ud83d"}]}',
     "lines[1].seat"),
    ("/orders", '{"channel_id": 1, "lines": [], "\\ud800": 1}', "\\ud800"),
    ("/access/sectors", '{"code": "S", "name": "S", "connector_options": {"a": {"b": ["x", "\\ud800"]}}}',
     "connector_options.a.b[1]"),
], ids=["top level", "low half", "nested unknown field", "second line", "a key", "deep in free-form JSON"])
def test_lone_surrogate_is_a_400_naming_the_field(mine, path, raw, field):
    error = _error(_post_raw(mine, path, raw), 400, field)
    assert error["code"] == "invalid_text"
    assert error["expected"] == "valid Unicode text" and "\\ud" in error["found"]


def test_lone_surrogate_as_raw_bytes_is_refused_too(mine):
    # Not the JSON escape but the bytes of a surrogate (CESU-8): json.loads lets them through.
    raw = b'{"first_name": "\xed\xa0\x80", "last_name": "x"}'
    assert _error(_post_raw(mine, "/contacts", raw), 400, "first_name")["code"] == "invalid_text"


def test_nul_anywhere_is_a_422_naming_the_field(mine):
    raw = '{"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1, "seat": "A\\u0000"}]}'
    error = _error(_post_raw(mine, "/orders", raw), 422, "lines[0].seat")
    assert error["found"] == "'A\\x00'"
    # Free-form JSON (a sector's connector options) has no text type to refuse it: the parser does.
    raw = '{"code": "S", "name": "S", "connector_options": {"url": ["http://x", "a\\u0000"]}}'
    _error(_post_raw(mine, "/access/sectors", raw), 422, "connector_options.url[1]")
    status = mine.api.client.get("/api/v1/contacts", {"search": "a\x00b"})
    assert _error(status, 422, "search")["code"] == "invalid"


def test_surrogate_in_a_query_parameter_is_refused_by_the_parser():
    # Over HTTP a query string is bytes that Django decodes with replacement, so a lone
    # surrogate cannot arrive that way; the parser still refuses one from any other source.
    from django.http import HttpRequest, QueryDict

    from passgate.apikit import JsonParser
    from passgate.errors import InvalidInput

    data = QueryDict(mutable=True)
    data["first_name"] = "\ud800"
    with pytest.raises(InvalidInput) as caught:
        JsonParser().parse_querydict(data, [], HttpRequest())
    assert caught.value.field == "first_name" and caught.value.code == "invalid_text"


def test_broken_utf8_in_a_query_is_no_500(mine):
    response = mine.api.client.get("/api/v1/contacts?search=%ED%A0%80")
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "field", "allowed"), [
    ("post", "/access/devices", {"door": "D1", "name": "Robot", "kind": "ROBOT"}, "kind", {"SCANNER", "TURNSTILE"}),
    ("post", "/tokens", {"name": "t", "role": "ROBOT"}, "role", {"ADMINISTRATOR", "READ_ONLY"}),
    ("post", "/orders", {"channel_id": 1, "payment_mode": "ROBOT", "lines": [{"product_id": 1, "tariff_id": 1}]},
     "payment_mode", {"CARD", "CASH"}),
    ("post", "/catalog/channels", {"code": "R", "name": "R", "type": "ROBOT"}, "type", {"INTERNAL"}),
    ("get", "/tickets?status=ROBOT", None, "status", {"NOT_PRINTED", "PRINTED", "CANCELLED", "INVALIDATED"}),
    ("get", "/access/scans?decision=ROBOT", None, "decision", {"GRANTED", "DENIED"}),
], ids=["device kind", "role", "payment mode", "channel type", "ticket status filter", "scan decision filter"])
def test_unknown_enum_value_is_a_422_with_the_allowed_values(mine, method, path, body, field, allowed):
    client = mine.api.client
    url = f"/api/v1{path}"
    response = client.get(url) if body is None else client.post(url, data=json.dumps(body),
                                                                content_type="application/json")
    error = _error(response, 422, field)
    assert error["found"] == "'ROBOT'"
    assert allowed <= {v.strip() for v in error["expected"].replace(" or ", ",").split(",")}, error
    assert "Input should be" not in error["message"]


def test_product_family_unknown_is_a_422(mine):
    body = {"season_id": mine.ids["season"], "code": "R", "name": "R", "family": "ROBOT"}
    error = _error(mine.api.client.post("/api/v1/catalog/products", data=json.dumps(body),
                                        content_type="application/json"), 422, "family")
    assert "EVENT" in error["expected"] and error["found"] == "'ROBOT'"


@pytest.mark.parametrize(("path", "body", "field", "message", "expected", "found"), [
    ("/orders", {"channel_id": "abc", "lines": [{"product_id": 1, "tariff_id": 1}]}, "channel_id",
     "must be a whole number", "an integer", "'abc'"),
    ("/orders", {"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1, "quantity": 1.5}]},
     "lines[0].quantity", "must be a whole number", "an integer", "1.5"),
    ("/orders", {"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1, "quantity": 0}]},
     "lines[0].quantity", "is too small", "1 or more", "0"),
    ("/orders", {"channel_id": 1, "lines": {"product_id": 1}}, "lines", "must be a list", "a list", "an object"),
    ("/orders", {"lines": [{"product_id": 1, "tariff_id": 1}]}, "channel_id", "this field is required", "a value",
     "nothing"),
    ("/contacts", {"last_name": "x" * 500}, "last_name", "is too long", "at most", "500 characters"),
    ("/contacts", {"last_name": ["Lovelace"]}, "last_name", "must be text", "a string", "a list"),
    ("/contacts", {"last_name": "L", "birth_date": "yesterday"}, "birth_date", "must be a date", "ISO 8601",
     "'yesterday'"),
    ("/access/settings", {"signed_barcodes": "perhaps"}, "signed_barcodes", "must be true or false",
     "true or false", "'perhaps'"),
], ids=["int parsing", "int from float", "greater than", "list type", "missing", "too long", "string type",
        "date parsing", "bool parsing"])
def test_every_422_says_what_was_expected_and_found(mine, path, body, field, message, expected, found):
    method = "put" if path == "/access/settings" else "post"
    response = getattr(mine.api.client, method)(f"/api/v1{path}", data=json.dumps(body),
                                                content_type="application/json")
    error = _error(response, 422, field)
    assert error["message"] == message
    assert expected in error["expected"] and error["found"] == found
    for detail in error["errors"]:
        assert detail["expected"] and detail["found"]


def test_an_unmapped_pydantic_error_still_has_expected_and_found():
    from passgate.apikit import validation_detail

    detail = validation_detail({"type": "some_future_error", "loc": ("body", "payload", "x"),
                                "msg": "Something is off", "input": [1, 2, 3]})
    assert detail == {"code": "invalid", "field": "x", "message": "something is off",
                      "expected": "a valid value", "found": "a list"}


@pytest.mark.parametrize("path", ["/orders", "/contacts", "/access/controls/import", "/catalog/seasons"])
def test_a_3mb_body_is_a_json_413(mine, path):
    body = json.dumps({"last_name": "x" * 3_000_000})
    error = _error(_post_raw(mine, path, body), 413, "body")
    assert error["code"] == "body_too_large"
    assert error["expected"] == "at most 2621440 bytes" and error["found"] == f"{len(body)} bytes"


def test_the_api_limit_is_a_setting(mine, settings):
    # Below Django's own limit: our parser measures the body itself.
    settings.PASSGATE_API_MAX_BODY_BYTES = 1000
    body = json.dumps({"last_name": "x" * 1000})
    error = _error(_post_raw(mine, "/contacts", body), 413, "body")
    assert error["expected"] == "at most 1000 bytes" and error["found"] == f"{len(body)} bytes"
    assert _post_raw(mine, "/contacts", json.dumps({"last_name": "short"})).status_code == 201


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/access/controls/import", {"controls": [{"barcode": "X", "reference": "r1", "scanned_at": "2026-01-01T10:00Z",
                                               "sector": ["A", "B"]}]}, "controls[0].sector"),
    ("/access/controls/import", {"controls": [{"barcode": "X", "reference": "r1", "scanned_at": "2026-01-01T10:00Z",
                                               "gate": {"id": 7}}]}, "controls[0].gate"),
    ("/access/controls/import", {"controls": [{"barcode": ["X"], "reference": "r1",
                                               "scanned_at": "2026-01-01T10:00Z"}]}, "controls[0].barcode"),
    ("/access/controls/import", {"controls": [{"barcode": "X", "reference": "r1",
                                               "scanned_at": ["2026-01-01T10:00Z"]}]}, "controls[0].scanned_at"),
    ("/access/controls/import", {"controls": [{"barcode": "X", "reference": "r1", "scanned_at": "2026-01-01T10:00Z",
                                               "direction": ["ENTRY"]}]}, "controls[0].direction"),
    ("/access/external-barcodes/import", {"source": "otipass", "barcodes": [
        {"barcode": "EXT1", "season_code": ["S"], "product_code": "P"}]}, "barcodes[0].season_code"),
    ("/access/external-barcodes/import", {"source": "otipass", "barcodes": [
        {"barcode": "EXT1", "season_code": "S", "product_code": {"p": 1}}]}, "barcodes[0].product_code"),
    ("/access/external-barcodes/import", {"source": "otipass", "barcodes": [
        {"barcode": "EXT1", "season_code": "S", "product_code": "P", "category_code": [1]}]},
     "barcodes[0].category_code"),
    ("/access/external-barcodes/import", {"source": "otipass", "barcodes": [
        {"barcode": "EXT1", "season_code": "S", "product_code": "P", "status": "BLOCKED", "block_reason": ["x"]}]},
     "barcodes[0].block_reason"),
    ("/contacts", {"last_name": "L", "first_name": ["Ada"]}, "first_name"),
    ("/orders", {"channel_id": 1, "lines": [{"product_id": 1, "tariff_id": 1, "seat": ["A1"]}]}, "lines[0].seat"),
], ids=["sector", "gate", "barcode", "scanned_at", "direction", "season_code", "product_code", "category_code",
        "block_reason", "contact name", "seat"])
def test_a_list_or_object_for_text_is_a_422_naming_the_field(mine, path, body, field):
    error = _error(_post_raw(mine, path, json.dumps(body)), 422, field)
    assert error["found"] in ("a list", "an object"), error


@pytest.mark.parametrize("path", ["/api/", "/api"])
def test_the_api_index_is_json(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    index = response.json()
    assert index["name"] and index["version"]
    assert index["links"] == {"v1": "/api/v1/", "docs": "/api/docs", "openapi": "/api/openapi.json"}
    for link in index["links"].values():
        assert client.get(link).status_code in (200, 401, 404) or link == "/api/v1/"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options", "head"])
@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/nope/deeper", "/api/v2/orders", "/api/v1/orders/1/x"])
def test_any_unknown_path_under_api_is_a_json_404(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    if method != "head":
        assert response.json()["code"] == "not_found"


def test_other_methods_on_the_bare_api_path_are_json(client):
    response = client.post("/api", data="{}", content_type="application/json")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
