"""Support, in a real browser: a ticket's page shows its whole trail in order, and the
attendance page of the performance on now updates itself while people come in. Run with
PASSGATE_SCREENSHOTS=docs/img to refresh the operator guide's pictures."""

from __future__ import annotations

import os

import pytest
from access.conftest import Venue, do_scan
from django.contrib.auth import get_user_model

from passgate.orgs.models import Membership, Role
from passgate.sales import services as sales

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, org) -> None:
    page.set_default_timeout(60000)  # a shared, busy machine: the first page may take a while
    user = get_user_model().objects.create_user("support", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "support")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_ticket_timeline_and_live_attendance(live_server, page, catalogue, org, screenshot_dir):
    venue = Venue(catalogue)
    buyer = sales.create_contact(venue.actor, first_name="Léa", last_name="Martin", email="lea@example.org")
    ticket, *others = venue.sell_tonight(6, buyer=buyer)
    ticket = sales.print_ticket(venue.actor, ticket, catalogue.desk)
    old_barcode = ticket.barcode
    ticket = sales.reprint_ticket(venue.actor, ticket, catalogue.desk)
    do_scan(venue.device, ticket.barcode)
    do_scan(venue.device2, ticket.barcode)
    do_scan(venue.device2, old_barcode)
    for other in others[:3]:
        do_scan(venue.device, other.barcode)
    sales.cancel_ticket(venue.actor, others[4])
    do_scan(venue.device2, others[4].barcode)
    log_in(page, live_server, org)

    page.goto(f"{live_server.url}/admin/sales/ticket/{ticket.pk}/change/")
    kinds = [row.get_attribute("class") for row in page.locator("table.timeline tbody tr").all()]
    # the third scan is of the barcode retired by the reprint: support sees it on the same trail
    assert kinds == ["timeline-sale", "timeline-print", "timeline-reprint"] + ["timeline-scan"] * 3
    trail = page.inner_text("table.timeline")
    assert f"{old_barcode} → {ticket.barcode}" in trail and "DENIED ALREADY_CONTROLLED at D2" in trail
    assert page.locator("h1").inner_text().startswith("View ticket")
    page.locator("table.timeline").scroll_into_view_if_needed()
    page.locator("table.timeline").screenshot(path=os.path.join(screenshot_dir, "ticket-timeline.png"))

    page.goto(f"{live_server.url}/admin/access/scan/attendance/{venue.tonight.pk}/")
    assert page.inner_text("#entered") == "4" and page.inner_text("#inside") == "4"
    page.screenshot(path=os.path.join(screenshot_dir, "attendance.png"), full_page=True)
    do_scan(venue.device2, others[3].barcode)  # someone comes in while the page is open
    page.wait_for_function("document.getElementById('entered').innerText === '5'", timeout=15000)
