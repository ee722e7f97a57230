"""The tickets' PDF, printing and e-mail through the API (tenancy and roles are in tests/api)."""

from __future__ import annotations

import pytest
from api.conftest import Api, api_as
from pdf_tools import needs_pdf_tools, qr_codes

from passgate.sales.models import OrderEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_actor) -> Api:
    return api_as(admin_actor)


@needs_pdf_tools
def test_ticket_and_order_pdfs_are_pdf_documents_with_the_barcodes(api, catalogue):
    order = catalogue.sell_concert(2)
    tickets = list(order.tickets.order_by("id"))
    response = api.client.get(f"/api/v1/tickets/{tickets[0].pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert qr_codes(response.content) == [tickets[0].barcode]
    response = api.client.get(f"/api/v1/orders/{order.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert qr_codes(response.content) == [t.barcode for t in tickets]
    # reading a PDF changes nothing
    assert set(order.tickets.values_list("status", flat=True)) == {"NOT_PRINTED"}


def test_print_at_a_point_of_sale_returns_the_pdf_and_marks_the_tickets_printed(api, catalogue):
    order = catalogue.sell_concert(2)
    response = api.client.post(f"/api/v1/orders/{order.pk}/print", {"point_of_sale_id": catalogue.desk.pk},
                               content_type="application/json")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert set(order.tickets.values_list("status", "printed_by")) == {("PRINTED", catalogue.desk.pk)}


def test_a_cancelled_ticket_has_no_pdf(api, catalogue):
    ticket = catalogue.sell_concert(1).tickets.get()
    assert api.post(f"/tickets/{ticket.pk}/cancel")[0] == 200
    status, error = api.get(f"/tickets/{ticket.pk}/pdf")
    assert status == 409 and error["field"] == "status" and error["found"] == "CANCELLED"


def test_send_queues_the_email_and_its_outcome_is_listed(api, catalogue, admin_actor):
    from passgate.sales import services as sales

    buyer = sales.create_contact(admin_actor, first_name="Léa", last_name="Martin", email="lea@example.org")
    order = catalogue.sell_concert(1, buyer=buyer)
    status, answer = api.post(f"/orders/{order.pk}/send")
    assert status == 202 and answer["status"] == "QUEUED" and answer["recipient"] == "lea@example.org"
    status, answer = api.post(f"/orders/{order.pk}/send", {"recipient": "desk@example.org"})
    assert status == 202 and answer["recipient"] == "desk@example.org"
    status, listed = api.get(f"/orders/{order.pk}/emails")
    assert status == 200 and [e["recipient"] for e in listed] == ["desk@example.org", "lea@example.org"]
    status, error = api.post(f"/orders/{order.pk}/send", {"recipient": "not-an-address"})
    assert status == 400 and error["field"] == "recipient" and error["found"] == "not-an-address"
    assert OrderEmail.objects.count() == 2
