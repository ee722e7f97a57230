"""The API end to end: who am I, tokens, catalogue, contacts, selling, the ticket actions."""

from __future__ import annotations

import datetime as dt
import re

from passgate.catalog import services as catalog
from passgate.catalog.models import SalesChannel
from passgate.orgs.models import Role
from passgate.sales.models import Ticket, TicketStatus

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_me_names_the_organisation_and_role(api, mine):
    status, body = api.get("/me")
    assert status == 200
    assert body["organisation"]["code"] == "demo"
    assert body["role"] == Role.ADMINISTRATOR
    assert "manage_catalog" in body["permissions"]
    assert body["token"]["prefix"] == mine.token.prefix
    assert "token_hash" not in str(body)


def test_tokens_created_once_listed_without_secret_and_revoked(api):
    status, created = api.post("/tokens", {"name": "scanner", "role": "ACCESS_CONTROL"})
    assert status == 201 and created["token"].startswith("pg_") and created["active"]
    status, page = api.get("/tokens")
    assert status == 200
    assert created["id"] in [t["id"] for t in page["items"]]
    assert created["token"] not in str(page) and all("token" not in t for t in page["items"])
    status, one = api.get(f"/tokens/{created['id']}")
    assert status == 200 and "token" not in one

    from api.conftest import Api

    scanner = Api(created["token"])
    assert scanner.get("/me")[1]["role"] == "ACCESS_CONTROL"
    status, revoked = api.post(f"/tokens/{created['id']}/revoke")
    assert status == 200 and not revoked["active"] and revoked["revoked_at"]
    status, error = scanner.get("/me")
    assert status == 401
    assert error["code"] == "unauthenticated" and error["field"] == "Authorization" and error["message"]
    assert api.get("/tokens", active="false")[1]["items"][0]["id"] == created["id"]


def test_catalogue_write_and_read(api, mine):
    status, season = api.post("/catalog/seasons", {"code": "S27", "name": "Season 2027",
                                                   "starts_on": "2027-01-01", "ends_on": "2027-12-31"})
    assert status == 201, season
    status, product = api.post("/catalog/products", {"season_id": season["id"], "code": "GALA", "name": "Gala",
                                                     "family": "EVENT", "capacity": 2})
    assert status == 201, product
    assert product["season_code"] == "S27" and product["sold_count"] == 0
    status, perf = api.post("/catalog/performances", {
        "product_id": product["id"], "code": "G1", "starts_at": "2027-03-01T20:00:00",
        "ends_at": "2027-03-01T23:00:00+01:00", "venue_city": "Toulouse"})
    assert status == 201, perf
    # Without an offset a time is read in the organisation's zone (Europe/Paris), and shown there.
    assert perf["starts_at"].startswith("2027-03-01T20:00:00") and perf["starts_at"].endswith("+01:00")
    assert perf["product_code"] == "GALA"
    status, tariff = api.post("/catalog/tariffs", {"product_id": product["id"], "code": "FULL", "name": "Full",
                                                   "price": "12.50"})
    assert status == 201 and tariff["price"] == "12.50"
    status, cat = api.post("/catalog/categories", {"product_id": product["id"], "code": "A", "name": "A"})
    assert status == 201
    status, channel = api.post("/catalog/channels", {"code": "WEB", "name": "Web", "type": "INTERNET"})
    assert status == 201 and channel["type"] == "INTERNET"
    status, pos = api.post("/catalog/points-of-sale", {"channel_id": channel["id"], "code": "WEB1", "name": "Site"})
    assert status == 201 and pos["channel_code"] == "WEB"
    status, quota = api.post("/catalog/contingents", {"code": "WEBQ", "name": "Web quota",
                                                      "channel_id": channel["id"], "product_id": product["id"],
                                                      "performance_id": perf["id"], "quota": 1})
    assert status == 201 and quota["performance_code"] == "G1" and quota["channel_code"] == "WEB"

    # filters
    assert [p["code"] for p in api.get("/catalog/products", family="EVENT", season_id=season["id"])[1]["items"]] \
        == ["GALA"]
    assert [t["code"] for t in api.get("/catalog/tariffs", product_id=product["id"])[1]["items"]] == ["FULL"]
    assert api.get("/catalog/performances", starts_after="2027-01-01T00:00:00Z")[1]["items"][0]["id"] == perf["id"]
    assert api.get("/catalog/channels", type="INTERNET")[1]["items"] == [channel]
    assert api.get(f"/catalog/contingents/{quota['id']}") == (200, quota)

    # patch: only the fields sent
    status, patched = api.patch(f"/catalog/tariffs/{tariff['id']}", {"price": "15"})
    assert status == 200 and patched["price"] == "15.00" and patched["name"] == "Full"
    status, patched = api.patch(f"/catalog/products/{product['id']}", {"capacity": None})
    assert status == 200 and patched["capacity"] is None
    status, error = api.patch(f"/catalog/products/{product['id']}", {"name": None})
    assert status == 400 and error["field"] == "name"

    # a sale through the contingent, then it is sold out
    order = {"channel_id": channel["id"], "point_of_sale_id": pos["id"], "payment_mode": "CARD",
             "lines": [{"product_id": product["id"], "tariff_id": tariff["id"], "performance_id": perf["id"],
                        "category_id": cat["id"], "seat": "A1"}]}
    status, sold = api.post("/orders", order)
    assert status == 201, sold
    status, error = api.post("/orders", order)
    assert status == 409 and error["code"] == "sold_out" and error["field"] == "lines[0].quantity"

    # delete: refused while used, allowed once free
    status, error = api.delete(f"/catalog/channels/{channel['id']}")
    assert status == 409 and error["code"] == "in_use"
    status, _ = api.delete(f"/catalog/categories/{cat['id']}")
    assert status == 409  # a ticket uses it
    status, other = api.post("/catalog/categories", {"product_id": product["id"], "code": "B", "name": "B"})
    assert api.delete(f"/catalog/categories/{other['id']}") == (204, None)
    assert api.get(f"/catalog/categories/{other['id']}")[0] == 404


def test_duplicate_code_is_a_clear_error(api, mine):
    status, error = api.post("/catalog/seasons", {"code": mine.cat.season.code, "name": "again"})
    assert status == 400
    assert error["code"] == "duplicate" and error["message"]


def test_contacts_search_create_patch(api, mine):
    status, created = api.post("/contacts", {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.org",
                                             "payment_modes": ["CARD", "PENDING_ACCOUNT"], "gender": "M"})
    assert status == 201 and created["number"].startswith("C")
    assert ISO_WITH_OFFSET.match(created["created_at"])
    for search in ("turing", "Alan Turing", created["number"], "alan@example"):
        items = api.get("/contacts", search=search)[1]["items"]
        assert [c["id"] for c in items] == [created["id"]], search
    assert api.get("/contacts", email="ALAN@example.org")[1]["items"][0]["id"] == created["id"]
    status, patched = api.patch(f"/contacts/{created['id']}", {"birth_place": "London", "birth_date": "1912-06-23"})
    assert status == 200 and patched["birth_place"] == "London" and patched["last_name"] == "Turing"
    status, error = api.post("/contacts", {"number": created["number"]})
    assert status == 400 and error["code"] == "duplicate"


def test_sell_read_and_cancel_an_order(api, mine):
    cat = mine.cat
    body = {"channel_id": cat.box_office.pk, "point_of_sale_id": cat.desk.pk, "buyer_id": mine.buyer.pk,
            "payment_mode": "CASH",
            "lines": [{"product_id": cat.concert.pk, "tariff_id": cat.full_price.pk,
                       "performance_id": cat.performance.pk, "category_id": cat.category.pk, "quantity": 2,
                       "cultural_contact_id": mine.beneficiary.pk},
                      {"product_id": cat.pass_product.pk, "tariff_id": cat.pass_tariff.pk}]}
    status, order = api.post("/orders", body)
    assert status == 201, order
    assert order["total"] == "105.00" and order["ticket_count"] == 3 and len(order["tickets"]) == 3
    assert order["buyer"]["id"] == mine.buyer.pk and order["channel_code"] == cat.box_office.code
    first, _, pass_ticket = order["tickets"]
    assert first["beneficiary"]["id"] == mine.beneficiary.pk and first["cultural_contact_id"] == mine.beneficiary.pk
    assert pass_ticket["beneficiary"]["id"] == mine.buyer.pk and pass_ticket["cultural_contact_id"] is None
    assert first["contingent_code"] == mine.contingent.code and first["performance_code"] == cat.performance.code
    assert ISO_WITH_OFFSET.match(order["created_at"]) and ISO_WITH_OFFSET.match(first["status_changed_at"])

    assert api.get(f"/orders/{order['id']}")[1]["file_number"] == order["file_number"]
    assert api.get(f"/orders/by-file-number/{order['file_number']}")[1]["id"] == order["id"]
    listed = api.get("/orders", file_number=order["file_number"])[1]["items"]
    assert [o["id"] for o in listed] == [order["id"]] and "tickets" not in listed[0]
    assert {o["id"] for o in api.get("/orders", buyer_id=mine.buyer.pk)[1]["items"]} == {order["id"], mine.order.pk}
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    assert len(api.get("/orders", created_since=since, channel_id=cat.box_office.pk)[1]["items"]) == 2
    assert api.get("/orders", created_since="2999-01-01T00:00:00Z")[1]["items"] == []

    status, cancelled = api.post(f"/orders/{order['id']}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED" and cancelled["cancelled_at"]
    assert {t["status"] for t in cancelled["tickets"]} == {"CANCELLED"}
    assert api.get("/orders", status="CANCELLED")[1]["items"][0]["id"] == order["id"]
    status, error = api.post(f"/orders/{order['id']}/cancel")
    assert status == 409 and error["code"] == "illegal_transition" and error["field"] == "status"


def test_order_creation_is_idempotent_by_external_reference(api, mine):
    cat = mine.cat
    body = {"channel_id": cat.box_office.pk, "external_reference": "PARTNER-42",
            "lines": [{"product_id": cat.pass_product.pk, "tariff_id": cat.pass_tariff.pk, "quantity": 3}]}
    status, first = api.post("/orders", body)
    assert status == 201
    status, again = api.post("/orders", body)
    assert status == 200
    assert again["id"] == first["id"] and [t["barcode"] for t in again["tickets"]] == \
        [t["barcode"] for t in first["tickets"]]
    assert Ticket.objects.filter(order_id=first["id"]).count() == 3
    assert api.get("/orders", external_reference="PARTNER-42")[1]["items"][0]["id"] == first["id"]


def test_ticket_actions_and_history_fields(api, mine):
    ticket = mine.tickets[0]
    status, printed = api.post(f"/tickets/{ticket.pk}/print", {"point_of_sale_id": mine.cat.desk.pk})
    assert status == 200 and printed["status"] == "PRINTED" and printed["printed_by"] == mine.cat.desk.code
    assert ISO_WITH_OFFSET.match(printed["printed_at"])
    status, reprinted = api.post(f"/tickets/{ticket.pk}/reprint")
    assert status == 200 and reprinted["reprint_count"] == 1
    assert reprinted["barcode"] != printed["barcode"] and reprinted["previous_barcodes"] == [printed["barcode"]]
    # the old barcode still finds the ticket
    assert [t["id"] for t in api.get("/tickets", barcode=printed["barcode"])[1]["items"]] == [ticket.pk]
    status, invalidated = api.post(f"/tickets/{ticket.pk}/invalidate")
    assert status == 200 and invalidated["status"] == "INVALIDATED" and invalidated["invalidated_at"]
    other = mine.tickets[1]
    status, cancelled = api.post(f"/tickets/{other.pk}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED" and cancelled["cancelled_at"]
    for key in ("control_count", "last_controlled_at", "first_controlled_at", "inside", "beneficiary",
                "status_changed_at"):
        assert key in cancelled
    assert cancelled["beneficiary"]["id"] == mine.buyer.pk  # no cultural contact: the buyer


def test_illegal_transition_is_409_with_expected_and_found(api, mine):
    ticket = mine.tickets[0]
    assert api.post(f"/tickets/{ticket.pk}/cancel")[0] == 200
    status, error = api.post(f"/tickets/{ticket.pk}/print")
    assert status == 409
    assert error["code"] == "illegal_transition" and error["field"] == "status"
    assert error["expected"] == "NOT_PRINTED" and error["found"] == "CANCELLED" and error["message"]
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.CANCELLED


def test_ticket_filters(api, mine):
    cat = mine.cat
    pass_order = cat.sell_pass(2)
    t0, t1 = mine.tickets
    api.post(f"/tickets/{t0.pk}/print")

    def ids(**query):
        status, page = api.get("/tickets", **query)
        assert status == 200, page
        return {t["id"] for t in page["items"]}

    pass_ids = set(pass_order.tickets.values_list("pk", flat=True))
    assert ids(status="PRINTED") == {t0.pk}
    assert ids(status="NOT_PRINTED") == {t1.pk} | pass_ids
    assert ids(product_id=cat.pass_product.pk) == pass_ids
    assert ids(performance_id=cat.performance.pk) == {t0.pk, t1.pk}
    assert ids(tariff_id=cat.full_price.pk) == {t0.pk, t1.pk}
    assert ids(category_id=cat.category.pk) == {t0.pk, t1.pk}
    assert ids(file_number=pass_order.file_number) == pass_ids
    assert ids(order_id=mine.order.pk) == {t0.pk, t1.pk}
    assert ids(barcode=t1.barcode) == {t1.pk}
    assert ids(updated_since="2999-01-01T00:00:00") == set()
    # an unencoded "+" of the offset arrives as a space: still understood
    assert ids(updated_since="2999-01-01T00:00:00 01:00") == set()
    assert ids(updated_since=(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()) == \
        {t0.pk, t1.pk} | pass_ids


def test_pagination_walks_every_row_once(api, mine):
    mine.cat.sell_pass(7)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        status, page = api.get("/tickets", **query)
        assert status == 200 and len(page["items"]) <= 3
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 9 and seen == sorted(set(seen))
    status, error = api.get("/tickets", cursor="not-a-cursor")
    assert status == 400 and error["field"] == "cursor"


def test_openapi_and_docs_are_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/tickets/{id}/reprint" in response.json()["paths"]
    assert client.get("/api/docs").status_code == 200


def test_same_reference_different_request_is_a_409_naming_the_difference(api, mine):
    cat = mine.cat
    line = {"product_id": cat.pass_product.pk, "tariff_id": cat.pass_tariff.pk, "quantity": 2}
    body = {"channel_id": cat.box_office.pk, "external_reference": "PARTNER-43", "lines": [line]}
    status, first = api.post("/orders", body)
    assert status == 201
    status, error = api.post("/orders", body | {"lines": [line | {"quantity": 3}]})
    assert status == 409, error
    assert error["code"] == "idempotency_conflict" and error["field"] == "external_reference"
    assert "lines[0].quantity: 2 ≠ 3" in error["message"] and error["found"] == "lines[0].quantity: 2 ≠ 3"
    assert first["file_number"] in error["expected"]
    status, error = api.post("/orders", body | {"payment_mode": "CASH", "buyer_id": mine.buyer.pk})
    assert status == 409 and error["found"] == f"buyer_id: none ≠ {mine.buyer.pk}; payment_mode: CARD ≠ CASH"
    status, error = api.post("/orders", body | {"lines": [line, line]})
    assert status == 409 and error["found"] == "lines: 1 lines ≠ 2 lines"
    # The same request again is still the same order, and nothing was sold by the refusals.
    status, again = api.post("/orders", body)
    assert status == 200 and again["id"] == first["id"]
    assert Ticket.objects.filter(order__external_reference="PARTNER-43").count() == 2
    # Another channel is another namespace of references.
    other = catalog.create(mine.actor, SalesChannel, code="WEB", name="Web", type="INTERNET")
    assert api.post("/orders", body | {"channel_id": other.pk, "lines": [line | {"quantity": 3}]})[0] == 201
