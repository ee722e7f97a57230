"""Tenancy through the API: a token of one organisation gets 404 on every other
organisation's object through every endpoint that takes an id, never sees a
foreign row in a list, and cannot use a foreign id inside a body."""

from __future__ import annotations

import pytest

from passgate.api import api as ninja_api
from passgate.catalog.models import Product, Season, Tariff
from passgate.orgs.models import ApiToken
from passgate.sales.models import Contact, Order, Ticket, TicketStatus

CATALOGUE = [("seasons", "season"), ("products", "product"), ("performances", "performance"),
             ("tariffs", "tariff"), ("categories", "category"), ("channels", "channel"),
             ("points-of-sale", "point_of_sale"), ("contingents", "contingent")]

# (method, path with {id}, kind of object, body)
ID_ENDPOINTS = [
    *[("get", f"/catalog/{path}/{{id}}", kind, None) for path, kind in CATALOGUE],
    *[("patch", f"/catalog/{path}/{{id}}", kind, {"name": "stolen"}) for path, kind in CATALOGUE],
    *[("delete", f"/catalog/{path}/{{id}}", kind, None) for path, kind in CATALOGUE],
    ("get", "/contacts/{id}", "contact", None),
    ("patch", "/contacts/{id}", "contact", {"last_name": "stolen"}),
    ("get", "/orders/{id}", "order", None),
    ("get", "/orders/by-file-number/{file_number}", "order", None),
    ("post", "/orders/{id}/cancel", "order", None),
    ("get", "/orders/{id}/pdf", "order", None),
    ("post", "/orders/{id}/print", "order", None),
    ("post", "/orders/{id}/send", "order", None),
    ("get", "/orders/{id}/emails", "order", None),
    ("get", "/tickets/{id}/pdf", "ticket", None),
    ("get", "/tickets/{id}", "ticket", None),
    ("get", "/tickets/{id}/timeline", "ticket", None),
    ("get", "/orders/{id}/timeline", "order", None),
    ("post", "/tickets/{id}/print", "ticket", None),
    ("post", "/tickets/{id}/reprint", "ticket", None),
    ("post", "/tickets/{id}/cancel", "ticket", None),
    ("post", "/tickets/{id}/invalidate", "ticket", None),
    ("get", "/tokens/{id}", "token", None),
    ("post", "/tokens/{id}/revoke", "token", None),
]


def _url(template: str, tenant, kind: str) -> str:
    if "{file_number}" in template:
        return template.replace("{file_number}", tenant.order.file_number)
    return template.replace("{id}", str(tenant.ids[kind]))


def test_every_operation_with_a_path_parameter_is_covered():
    spec = ninja_api.get_openapi_schema()
    covered = {(m, "/api/v1" + p) for m, p, _, _ in ID_ENDPOINTS}
    with_ids = {(method, path) for path, ops in spec["paths"].items() if "{" in path for method in ops
                if path.startswith(("/api/v1/catalog/", "/api/v1/contacts", "/api/v1/orders", "/api/v1/tickets",
                                    "/api/v1/tokens"))}
    assert with_ids - covered == set(), "add these endpoints to ID_ENDPOINTS"


def stored_state(theirs) -> dict:
    """What the other organisation has stored, to prove a refused call changed nothing."""
    org = theirs.actor.organisation
    return {"tickets": list(Ticket.objects.filter(organisation=org).values_list("pk", "status", "barcode").order_by("pk")),
            "orders": list(Order.objects.filter(organisation=org).values_list("pk", "status")),
            "names": (Season.objects.get(pk=theirs.ids["season"]).name,
                      Contact.objects.get(pk=theirs.ids["contact"]).last_name),
            "tokens": list(ApiToken.objects.filter(organisation=org).values_list("pk", "revoked_at"))}


@pytest.mark.parametrize(("method", "template", "kind", "body"), ID_ENDPOINTS,
                         ids=[f"{m.upper()} {p}" for m, p, _, _ in ID_ENDPOINTS])
def test_foreign_object_is_404_and_untouched(mine, theirs, method, template, kind, body):
    before = stored_state(theirs)
    status, error = mine.api.call(method, _url(template, theirs, kind), body)
    assert status == 404, error
    assert error["code"] == "not_found" and error["message"]
    assert set(error) >= {"code", "field", "message"}
    # nothing of the other organisation leaks into the answer
    assert theirs.order.file_number not in str(error.get("message")) or kind == "order"
    after = stored_state(theirs)
    assert after == before
    # the same endpoint works on our own object (so the 404 is about tenancy, not the route)
    status, _ = mine.api.call(method, _url(template, mine, kind), body)
    assert status in (200, 202, 204, 409), (status, _)


def test_unknown_ids_are_404_too(api, mine):
    for path in ("/catalog/products/999999", "/contacts/999999", "/orders/999999", "/tickets/999999",
                 "/orders/by-file-number/99999999", "/tokens/999999"):
        status, error = api.get(path)
        assert status == 404 and error["code"] == "not_found" and error["field"], path


LISTS = ["/catalog/seasons", "/catalog/products", "/catalog/performances", "/catalog/tariffs", "/catalog/categories",
         "/catalog/channels", "/catalog/points-of-sale", "/catalog/contingents", "/contacts", "/orders", "/tickets",
         "/tokens"]


def test_lists_never_show_foreign_rows(mine, theirs):
    spec = ninja_api.get_openapi_schema()
    listed = {p for p, ops in spec["paths"].items() if "get" in ops and "{" not in p and
              spec["paths"][p]["get"]["operationId"].startswith("list_")}
    assert listed >= {"/api/v1" + p for p in LISTS}
    foreign_ids = {theirs.ids[k] for k in theirs.ids} | {t.pk for t in theirs.tickets}
    for path in LISTS:
        status, page = mine.api.get(path, limit=1000)
        assert status == 200, (path, page)
        assert page["items"], path
        mine_ids = {row["id"] for row in page["items"]}
        kind_ids = {row["id"] for row in theirs.api.get(path, limit=1000)[1]["items"]}
        assert not mine_ids & kind_ids, path
        assert not {row.get("code") for row in page["items"]} & {"OS26", "OCONCERT", "OPASS", "OBOX", "ODESK1", "OQ1"}
    assert foreign_ids  # sanity
    # filtering by a foreign id gives nothing (and no error that tells it exists)
    for path, query in (("/tickets", {"product_id": theirs.ids["product"]}),
                        ("/tickets", {"file_number": theirs.order.file_number}),
                        ("/tickets", {"barcode": theirs.tickets[0].barcode}),
                        ("/orders", {"buyer_id": theirs.ids["contact"]}),
                        ("/catalog/tariffs", {"product_id": theirs.ids["product"]}),
                        ("/contacts", {"search": "OLovelace"})):
        status, page = mine.api.get(path, **query)
        assert status == 200 and page["items"] == [], (path, query)


def _order_body(t):
    cat = t.cat
    return {"channel_id": cat.box_office.pk, "point_of_sale_id": cat.desk.pk, "buyer_id": t.buyer.pk,
            "lines": [{"product_id": cat.concert.pk, "tariff_id": cat.full_price.pk,
                       "performance_id": cat.performance.pk, "category_id": cat.category.pk,
                       "cultural_contact_id": t.beneficiary.pk}]}


@pytest.mark.parametrize("field", ["channel_id", "point_of_sale_id", "buyer_id", "lines[0].product_id",
                                   "lines[0].tariff_id", "lines[0].performance_id", "lines[0].category_id",
                                   "lines[0].cultural_contact_id"])
def test_foreign_id_inside_an_order_is_404_naming_the_field(mine, theirs, field):
    body, foreign = _order_body(mine), _order_body(theirs)
    if field.startswith("lines[0]."):
        name = field.removeprefix("lines[0].")
        body["lines"][0][name] = foreign["lines"][0][name]
    else:
        body[field] = foreign[field]
    count = Order.objects.count()
    status, error = mine.api.post("/orders", body)
    assert status == 404, error
    assert error["code"] == "not_found" and error["field"] == field
    assert Order.objects.count() == count


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/catalog/products", {"season_id": "theirs:season", "code": "X", "name": "X", "family": "EVENT"}, "season_id"),
    ("/catalog/tariffs", {"product_id": "theirs:product", "code": "X", "name": "X", "price": "1"}, "product_id"),
    ("/catalog/categories", {"product_id": "theirs:product", "code": "X", "name": "X"}, "product_id"),
    ("/catalog/performances", {"product_id": "theirs:product", "code": "X", "starts_at": "2030-01-01T20:00:00Z",
                               "ends_at": "2030-01-01T22:00:00Z"}, "product_id"),
    ("/catalog/points-of-sale", {"channel_id": "theirs:channel", "code": "X", "name": "X"}, "channel_id"),
    ("/catalog/contingents", {"channel_id": "mine:channel", "product_id": "mine:product",
                              "performance_id": "theirs:performance", "code": "X", "name": "X", "quota": 1},
     "performance_id"),
])
def test_foreign_id_inside_a_catalogue_body_is_404(mine, theirs, path, body, field):
    tenants = {"mine": mine, "theirs": theirs}
    resolved = {k: (tenants[v.split(":")[0]].ids[v.split(":")[1]]
                    if isinstance(v, str) and v.startswith(("mine:", "theirs:")) else v)
                for k, v in body.items()}
    status, error = mine.api.post(path, resolved)
    assert status == 404 and error["field"] == field, error
    # and through a PATCH of one of our own objects
    own = {"/catalog/products": "product", "/catalog/tariffs": "tariff", "/catalog/categories": "category",
           "/catalog/performances": "performance", "/catalog/points-of-sale": "point_of_sale",
           "/catalog/contingents": "contingent"}[path]
    status, error = mine.api.patch(f"{path}/{mine.ids[own]}", {field: resolved[field]})
    assert status == 404 and error["field"] == field, error
    assert Product.objects.get(pk=mine.ids["product"]).season_id == mine.ids["season"]
    assert Tariff.objects.get(pk=mine.ids["tariff"]).product_id == mine.ids["product"]


def test_print_with_a_foreign_point_of_sale_is_404(mine, theirs):
    ticket = mine.tickets[0]
    status, error = mine.api.post(f"/tickets/{ticket.pk}/print", {"point_of_sale_id": theirs.ids["point_of_sale"]})
    assert status == 404 and error["field"] == "point_of_sale_id"
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.NOT_PRINTED
