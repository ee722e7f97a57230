"""Real tickets: the PDF (what it says, the QR a door reads), printing at a point of sale,
and the e-mail to the buyer through a real SMTP server, run as a background task."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django_tasks_db.models import DBTaskResult
from pdf_tools import needs_pdf_tools, pdf_pages, pdf_text, qr_codes

from passgate.access import services as access
from passgate.access import signing
from passgate.errors import Conflict, Forbidden, InvalidInput, NotFound
from passgate.orgs.models import Role
from passgate.orgs.services import Actor
from passgate.sales import delivery
from passgate.sales import services as sales
from passgate.sales.models import OrderEmail, Ticket
from passgate.sales.tasks import send_order_email_task
from tests.access.conftest import Venue

pytestmark = pytest.mark.django_db


@pytest.fixture
def venue(catalogue):
    return Venue(catalogue)


@pytest.fixture
def buyer(admin_actor):
    return sales.create_contact(admin_actor, first_name="Léa", last_name="Martin", email="lea@example.org")


@pytest.fixture
def order(catalogue, buyer, admin_actor):
    holder = sales.create_contact(admin_actor, first_name="Hugo", last_name="Bernard")
    c = catalogue
    lines = [sales.SaleLine(product=c.concert, tariff=c.full_price, performance=c.performance, category=c.category,
                            seat="B12", cultural_contact=holder),
             sales.SaleLine(product=c.concert, tariff=c.full_price, performance=c.performance, category=c.category)]
    return sales.sell(admin_actor, sales.SaleRequest(channel=c.box_office, lines=lines, buyer=buyer,
                                                     point_of_sale=c.desk))


def tickets_of(order):
    return list(order.tickets.order_by("id"))


@needs_pdf_tools
def test_a_ticket_page_says_what_the_holder_needs_and_its_qr_is_the_barcode(order, catalogue, admin_actor):
    first, second = tickets_of(order)
    content = delivery.ticket_pdf(admin_actor, first)
    text = pdf_text(content)
    starts = catalogue.performance.starts_at
    local = starts.astimezone(ZoneInfo("Europe/Paris"))
    assert local.strftime("%H:%M") != starts.astimezone(dt.UTC).strftime("%H:%M")  # Paris is not UTC
    for expected in ("Demo Theatre", "Concert", "Opening night", local.strftime("%d %B %Y"),
                     local.strftime("%H:%M (Europe/Paris)"),
                     "Grand Hall", "31000", "Toulouse", "Full price", "Stalls", "B12", "Hugo Bernard",
                     order.file_number, "30.00 EUR"):
        assert expected in text, expected
    assert qr_codes(content) == [first.barcode]
    # the second ticket has no holder of its own: the buyer's name, free placement
    second_text = pdf_text(delivery.ticket_pdf(admin_actor, second))
    assert "Léa Martin" in second_text and "Free placement" in second_text


@needs_pdf_tools
def test_an_order_pdf_has_one_page_per_live_ticket(order, admin_actor):
    first, second = tickets_of(order)
    sales.cancel_ticket(admin_actor, first)
    content = delivery.order_pdf(admin_actor, order)
    assert len(pdf_pages(content)) == 1
    assert qr_codes(content) == [second.barcode]


@needs_pdf_tools
def test_with_signed_barcodes_the_qr_holds_the_signed_payload_and_a_reprint_the_new_one(venue, admin_actor):
    access.set_signed_barcodes(admin_actor, True)
    ticket = venue.sell_tonight(1)[0]
    assert signing.is_signed(ticket.barcode)
    (read,) = qr_codes(delivery.ticket_pdf(admin_actor, ticket))
    assert read == ticket.barcode
    keys = {k["kid"]: k["public_key"] for k in signing.public_keys(admin_actor.organisation.pk)}
    assert signing.decode(read, keys).product_id == ticket.product_id

    old = ticket.barcode
    sales.print_ticket(admin_actor, ticket)
    ticket = sales.reprint_ticket(admin_actor, ticket)
    (reprinted,) = qr_codes(delivery.ticket_pdf(admin_actor, ticket))
    assert reprinted == ticket.barcode != old
    assert signing.decode(reprinted, keys) is not None


def test_printing_an_order_marks_its_unprinted_tickets_printed_at_the_point_of_sale(order, catalogue, admin_actor):
    first, second = tickets_of(order)
    sales.print_ticket(admin_actor, first)
    printed_at = Ticket.objects.get(pk=first.pk).printed_at
    content = delivery.print_order(admin_actor, order, catalogue.desk)
    assert content.startswith(b"%PDF")
    first, second = tickets_of(order)
    assert (first.status, second.status) == ("PRINTED", "PRINTED")
    assert second.printed_by_id == catalogue.desk.pk
    assert first.printed_at == printed_at  # already printed: left alone, not reprinted


def test_a_dead_ticket_has_no_pdf_and_a_dead_order_none_either(order, admin_actor):
    first, _ = tickets_of(order)
    sales.invalidate_ticket(admin_actor, first)
    with pytest.raises(Conflict, match="INVALIDATED ticket cannot be printed"):
        delivery.ticket_pdf(admin_actor, Ticket.objects.get(pk=first.pk))
    sales.cancel_order(admin_actor, order)
    with pytest.raises(Conflict, match="no live ticket"):
        delivery.print_order(admin_actor, order)
    with pytest.raises(Conflict, match="no live ticket"):
        delivery.request_order_email(admin_actor, order)


def test_pdfs_are_for_sellers_of_the_same_organisation(order, other_org):
    reader = Actor(organisation=order.organisation, role=Role.READ_ONLY, label="reader")
    with pytest.raises(Forbidden):
        delivery.order_pdf(reader, order)
    with pytest.raises(NotFound):
        delivery.order_pdf(Actor.system(other_org), order)


def _queued(email_id) -> DBTaskResult:
    return DBTaskResult.objects.get(task_path__endswith="send_order_email_task", args_kwargs__args=[email_id])


def test_the_email_is_queued_then_sent_with_the_pdf_by_the_worker(order, admin_actor, smtp,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = delivery.request_order_email(admin_actor, order)
    assert (email.status, email.recipient) == ("QUEUED", "lea@example.org")
    assert _queued(email.pk).status == "READY"
    assert smtp.messages == []  # nothing is sent by the request itself

    assert send_order_email_task.call(email.pk) is True  # what the worker does with the queued task
    (mail_from, rcpt, message), = smtp.wait_for(1)
    assert rcpt == ["lea@example.org"]
    assert message["From"] == "Demo Theatre <passgate@localhost>"
    assert order.file_number in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    barcodes = [t.barcode for t in tickets_of(order)]
    assert all(b in text for b in barcodes) and "Hugo Bernard" in html
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"tickets-{order.file_number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    email.refresh_from_db()
    assert email.status == "SENT" and email.sent_at is not None and email.error == ""

    # a second run of the same task (a retried worker) does not send it again
    assert send_order_email_task.call(email.pk) is True
    assert len(smtp.messages) == 1


@needs_pdf_tools
def test_the_emailed_pdf_carries_every_ticket_qr(order, admin_actor, smtp):
    email = delivery.request_order_email(admin_actor, order, "box@example.org")
    delivery.send_order_email(email.pk)
    (_, rcpt, message), = smtp.wait_for(1)
    assert rcpt == ["box@example.org"]
    (attachment,) = list(message.iter_attachments())
    assert qr_codes(attachment.get_content()) == [t.barcode for t in tickets_of(order)]


def test_a_mail_server_that_is_down_is_recorded_as_failed(order, admin_actor, settings):
    from sandboxes.framework import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    email = delivery.request_order_email(admin_actor, order)
    assert delivery.send_order_email(email.pk) is False
    email.refresh_from_db()
    assert email.status == "FAILED" and email.sent_at is None
    assert "Connection refused" in email.error or "ConnectionRefused" in email.error


def test_an_email_needs_an_address(catalogue, admin_actor):
    anonymous = catalogue.sell_concert(1)
    with pytest.raises(InvalidInput) as refused:
        delivery.request_order_email(admin_actor, anonymous)
    assert refused.value.field == "recipient"
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        delivery.request_order_email(admin_actor, anonymous, "lea at example")
    assert not OrderEmail.objects.exists()


def test_remaining_places_reads_the_limits_the_sale_takes(catalogue, admin_actor):
    from passgate.catalog import services as catalog
    from passgate.catalog.models import Contingent

    c = catalogue
    catalog.create(admin_actor, Contingent, code="BOXQ", name="Box quota", channel=c.box_office, product=c.concert,
                   performance=c.performance, quota=5)
    c.sell_concert(2)
    rows = {r["limit"]: r for r in sales.remaining_places(c.box_office, c.concert, c.performance)}
    assert rows["contingent"]["remaining"] == 3 and rows["contingent"]["code"] == "BOXQ"
    assert rows["performance"]["remaining"] is None and rows["performance"]["sold"] == 2
    assert rows["product"]["remaining"] is None
