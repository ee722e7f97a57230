"""A box-office clerk sells 3 tickets at the desk for the performance on now, downloads the
PDF and e-mails it; a steward scans the QR code read from that PDF and is let in."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from pdf_tools import needs_pdf_tools, qr_codes, render_pages

from passgate.catalog import services as catalog
from passgate.catalog.models import Performance
from passgate.orgs.models import Membership, Role
from passgate.sales.models import Order, OrderEmail
from tests.access.conftest import Venue

pytestmark = [pytest.mark.browser, needs_pdf_tools, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def on_now(catalogue):
    """Doors open, the show started a few minutes ago; a door with an enrolled steward's device."""
    venue = Venue(catalogue)
    now = timezone.now()
    performance = catalog.create(
        catalogue.actor, Performance, product=catalogue.concert, code="NOW", name="Tonight's concert",
        starts_at=now - dt.timedelta(minutes=5), ends_at=now + dt.timedelta(hours=2),
        doors_open_at=now - dt.timedelta(minutes=45), venue_site="Grand Hall", venue_city="Toulouse")
    return venue, performance


def login(page, live_server, org) -> None:
    user = get_user_model().objects.create_user("clerk", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.BOX_OFFICE)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_desk_sale_pdf_email_and_the_door(live_server, page, org, catalogue, on_now, smtp, screenshot_dir):
    venue, performance = on_now
    login(page, live_server, org)

    page.goto(f"{live_server.url}/admin/sales/order/")
    with page.expect_navigation():
        page.click("#sell-at-desk")
    with page.expect_navigation():
        page.select_option("#id_item", f"perf:{performance.pk}")
    page.fill(f"#qty_{catalogue.full_price.pk}", "3")
    page.fill("#id_buyer_first_name", "Léa")
    page.fill("#id_buyer_last_name", "Martin")
    page.fill("#id_buyer_email", "lea@example.org")
    page.fill("#id_holder_first_name_1", "Hugo")
    page.fill("#id_holder_last_name_1", "Bernard")
    page.select_option("#id_category", str(catalogue.category.pk))
    page.select_option("#id_payment_mode", "CASH")
    assert page.inner_text("#total") == "90.00"
    page.wait_for_selector("#capacity tr[data-limit=performance]")  # the live remaining places
    page.screenshot(path=os.path.join(screenshot_dir, "desk-sale.png"), full_page=True)
    with page.expect_navigation():
        page.click("#confirm-sale")
    assert "Sold: file" in page.inner_text("ul.messagelist")
    order = Order.objects.get()
    barcodes = list(order.tickets.order_by("id").values_list("barcode", flat=True))
    assert len(barcodes) == 3 and order.buyer.email == "lea@example.org"

    with page.expect_download() as download:
        page.click("#download-pdf")
    content = Path(download.value.path()).read_bytes()
    assert qr_codes(content) == barcodes  # one page per ticket, each QR its ticket's barcode
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(render_pages(content, tmp, dpi=80)[0], os.path.join(screenshot_dir, "ticket-pdf.png"))

    with page.expect_navigation():
        page.click("#email-order")
    assert "E-mail to lea@example.org queued" in page.inner_text("ul.messagelist")
    call_command("worker", batch=True, stdout=io.StringIO())  # the background worker runs the task
    (_, rcpt, message), = smtp.wait_for(1)
    assert rcpt == ["lea@example.org"] and message["From"].startswith("Demo Theatre")
    (attachment,) = list(message.iter_attachments())
    mailed = qr_codes(attachment.get_content())
    assert mailed == barcodes
    assert OrderEmail.objects.get().status == "SENT"
    page.reload()
    assert "Sent" in page.inner_text("#emails-group")

    # the steward's scan of a QR read from the PDF lets the holder in
    out = io.StringIO()
    call_command("scan", mailed[1], device_token=venue.token, stdout=out)
    assert out.getvalue().startswith("GRANTED"), out.getvalue()
    assert "Hugo Bernard" in out.getvalue()
