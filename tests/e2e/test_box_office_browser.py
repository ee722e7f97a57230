"""A box-office manager, in a real browser: logs in, finds a ticket by its
barcode, cancels it with an action, and sees the refusal when printing it."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model

from passgate.orgs.models import Membership, Role
from passgate.sales.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def search(page, text: str) -> None:
    page.fill("#searchbar", text)
    with page.expect_navigation():
        page.press("#searchbar", "Enter")


def test_manager_cancels_a_ticket_found_by_barcode(live_server, page, catalogue, org, screenshot_dir):
    user = get_user_model().objects.create_user("manager", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.BOX_OFFICE)
    ticket = catalogue.sell_concert(2).tickets.order_by("id").first()

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/sales/ticket/")
    search(page, ticket.barcode)
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert ticket.barcode in rows.first.inner_text()

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "cancel_tickets")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "Cancel: 1 done." in page.inner_text("ul.messagelist")
    assert Ticket.objects.get(pk=ticket.pk).status == "CANCELLED"

    # Printing it now is refused, in words the manager understands.
    search(page, ticket.barcode)
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.select_option("select[name=action]", "print_tickets")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "a CANCELLED ticket cannot be printed" in page.inner_text("ul.messagelist")
    page.screenshot(path=os.path.join(screenshot_dir, "box-office-refusal.png"), full_page=True)
    assert Ticket.objects.get(pk=ticket.pk).status == "CANCELLED"
