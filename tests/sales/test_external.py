"""External sales (sales.external): idempotent by (channel, order number), limited by the
channel's contingent only, partner barcodes kept as they are; the API on top."""

from __future__ import annotations

import json

import pytest

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, Product, SalesChannel
from passgate.errors import Conflict, InvalidInput
from passgate.sales.external import ExternalLine, ExternalSale, sell_external
from passgate.sales.models import Order, PaymentMode, Ticket

pytestmark = pytest.mark.django_db


def a_sale(ext, number="OT-1", quantity=1, barcodes=None, tariff=None, mode=PaymentMode.PENDING_ACCOUNT):
    c = ext.catalogue
    return ExternalSale(channel=ext.channel, order_number=number, buyer=ext.contact, payment_mode=mode,
                        lines=[ExternalLine(product=c.pass_product, tariff=tariff or c.pass_tariff,
                                            quantity=quantity, barcodes=barcodes or [])])


def test_an_external_sale_is_an_order_of_the_channel_for_the_buyer(catalogue, external):
    order, created = sell_external(catalogue.actor, a_sale(external, quantity=2, barcodes=["OTI1", "OTI2"]))
    assert created
    assert order.channel == external.channel and order.buyer == external.contact
    assert order.payment_mode == PaymentMode.PENDING_ACCOUNT and order.external_reference == "OT-1"
    assert str(order.total) == "90.00"
    assert sorted(order.tickets.values_list("barcode", flat=True)) == ["OTI1", "OTI2"]
    external.contingent.refresh_from_db()
    assert external.contingent.sold_count == 2


def test_the_same_order_number_again_returns_the_same_order(catalogue, external):
    first, _ = sell_external(catalogue.actor, a_sale(external, barcodes=["OTI1"]))
    again, created = sell_external(catalogue.actor, a_sale(external, barcodes=["OTI1"]))
    assert not created and again.pk == first.pk
    assert Order.objects.count() == 1 and Ticket.objects.count() == 1
    external.contingent.refresh_from_db()
    assert external.contingent.sold_count == 1


def test_the_same_number_with_another_content_is_a_conflict_naming_the_difference(catalogue, external):
    sell_external(catalogue.actor, a_sale(external, barcodes=["OTI1"]))
    with pytest.raises(Conflict) as exc:
        sell_external(catalogue.actor, a_sale(external, quantity=2, barcodes=["OTI1", "OTI9"]))
    assert exc.value.code == "idempotency_conflict"
    assert "lines[0].quantity: 1 ≠ 2" in exc.value.found
    assert Order.objects.count() == 1


def test_an_exhausted_quota_is_a_retryable_conflict_and_nothing_is_written(catalogue, external):
    catalog.update(catalogue.actor, external.contingent, quota=1)
    sell_external(catalogue.actor, a_sale(external, "OT-1"))
    with pytest.raises(Conflict) as exc:
        sell_external(catalogue.actor, a_sale(external, "OT-2"))
    assert exc.value.code == "quota_exhausted" and exc.value.field == "lines[0].quantity"
    assert not Order.objects.filter(external_reference="OT-2").exists()
    catalog.update(catalogue.actor, external.contingent, quota=2)
    order, created = sell_external(catalogue.actor, a_sale(external, "OT-2"))
    assert created and order.tickets.count() == 1


def test_capacity_outside_the_contingent_never_refuses_it(catalogue, external):
    """The partner already sold the pass: a full product is still counted, not refused."""
    catalog.update(catalogue.actor, catalogue.pass_product, capacity=1)
    catalogue.sell_pass()
    order, _ = sell_external(catalogue.actor, a_sale(external, quantity=2))
    assert order.tickets.count() == 2
    assert Product.objects.get(pk=catalogue.pass_product.pk).sold_count == 3


def test_a_partner_barcode_already_in_use_is_a_clear_error_naming_the_line(catalogue, external):
    taken = catalogue.sell_pass().tickets.get().barcode
    with pytest.raises(Conflict) as exc:
        sell_external(catalogue.actor, a_sale(external, quantity=2, barcodes=["OTI1", taken]))
    assert exc.value.code == "barcode_taken" and exc.value.field == "lines[0].barcodes[1]"
    assert exc.value.found == taken
    assert Order.objects.filter(channel=external.channel).count() == 0


def test_a_barcode_retired_by_a_reprint_is_never_issued_again(catalogue, external):
    from passgate.sales import services

    ticket = catalogue.sell_pass().tickets.get()
    retired = ticket.barcode
    services.reprint_ticket(catalogue.actor, services.print_ticket(catalogue.actor, ticket))
    with pytest.raises(Conflict) as exc:
        sell_external(catalogue.actor, a_sale(external, barcodes=[retired]))
    assert exc.value.code == "barcode_taken" and exc.value.field == "lines[0].barcodes[0]"


@pytest.mark.parametrize("barcodes, field", [(["A B"], "lines[0].barcodes[0]"), (["X", "X"], "lines[0].barcodes[1]"),
                                             (["X"], "lines[0].barcodes")])
def test_bad_barcodes_name_their_place(catalogue, external, barcodes, field):
    quantity = 1 if barcodes == ["A B"] else 2
    with pytest.raises(InvalidInput) as exc:
        sell_external(catalogue.actor, a_sale(external, quantity=quantity, barcodes=barcodes))
    assert exc.value.field == field


def test_only_external_channels_and_allowed_payment_modes(catalogue, external):
    sale = a_sale(external)
    sale.channel = catalogue.box_office
    with pytest.raises(InvalidInput) as exc:
        sell_external(catalogue.actor, sale)
    assert exc.value.field == "channel"
    with pytest.raises(InvalidInput) as exc:
        sell_external(catalogue.actor, a_sale(external, mode=PaymentMode.CASH))
    assert exc.value.field == "payment_mode"


# ---------------------------------------------------------------- API

def body(number="OT-1", **line):
    return {"order_number": number, "channel": "OTIPASS", "buyer": "OTIPASS", "payment_mode": "PENDING_ACCOUNT",
            "lines": [{"product": "PASS", "tariff": "ADULT", "quantity": 1, "barcodes": ["OTI42"], **line}]}


def post(client, data):
    return client.post("/api/v1/sales/external", json.dumps(data), content_type="application/json")


def test_api_is_idempotent_201_then_200(api_client, external):
    first = post(api_client, body())
    assert first.status_code == 201, first.content
    again = post(api_client, body())
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert first.json()["channel_code"] == "OTIPASS" and first.json()["tickets"][0]["barcode"] == "OTI42"


def test_api_conflicting_replay_is_409_naming_the_difference(api_client, external):
    post(api_client, body())
    response = post(api_client, body(barcodes=["OTI43"]))
    assert response.status_code == 409
    assert "barcodes" in json.dumps(response.json())


def test_api_quota_exhausted_is_409(api_client, catalogue, external):
    catalog.update(catalogue.actor, external.contingent, quota=0)
    response = post(api_client, body())
    assert response.status_code == 409 and "quota_exhausted" in json.dumps(response.json())


def test_api_unknown_tariff_names_the_field(api_client, external):
    response = post(api_client, body(tariff="NOPE"))
    text = json.dumps(response.json())
    assert response.status_code in (400, 404, 422) and "lines[0].tariff" in text and "NOPE" in text


def test_api_another_organisations_token_sees_no_channel(other_api_client, external):
    response = post(other_api_client, body())
    assert response.status_code == 404 and "channel" in json.dumps(response.json())
    assert not Order.objects.exists()


def test_an_internal_channel_of_the_same_code_family_is_refused(api_client, catalogue, external):
    catalog.create(catalogue.actor, SalesChannel, code="WEB", name="Web", type=ChannelType.INTERNET)
    response = post(api_client, {**body(), "channel": "WEB"})
    assert response.status_code == 400 and "EXTERNAL_STX_FILE" in json.dumps(response.json())
