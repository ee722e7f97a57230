"""An operator, in a real browser: sets up the TIXnGO interface, creates an injection schedule with
filters, runs it, and sees the execution, then a ticket's wallet status and blockchain log (after a
feedback run), against the TIXnGO sandbox over real HTTP."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, PointOfSale, SalesChannel
from passgate.jobs.models import Execution, Interface
from passgate.orgs.models import Membership, Role
from passgate.sales import services as sales

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
KEY = "browser-tixngo-key"
# Run now runs in the request (no worker in this test).
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def save_form(page) -> None:
    with page.expect_navigation():
        page.click("input[name=_save]")


def add_schedule(page, url: str, function: str, name: str, parameters: str = "") -> None:
    page.goto(f"{url}/admin/jobs/schedule/add/")
    page.select_option("#id_interface", str(Interface.objects.get(name="TIXnGO").pk))
    page.select_option("#id_function", function)
    page.fill("#id_name", name)
    page.fill("#id_parameters_text", parameters)
    save_form(page)
    assert "was added successfully" in page.inner_text("ul.messagelist"), page.inner_text("#content")


def run_from_list(page, url: str, name: str) -> None:
    page.goto(f"{url}/admin/jobs/schedule/")
    page.locator("#result_list tbody tr", has_text=name).locator("input.action-select").check()
    page.select_option("select[name=action]", "run_now")
    with page.expect_navigation():
        page.click("button[name=index]")


def test_operator_sets_up_tixngo_injects_and_reads_the_wallet(live_server, page, sandbox, org, admin_actor,
                                                            catalogue, screenshot_dir):
    tix = sandbox("tixngo")
    tix.seed(api_key=KEY, tx_confirm_s=0)
    channel = catalog.create(admin_actor, SalesChannel, code="WALLET", name="Wallet",
                             type=ChannelType.EXTERNAL_PRINTING)
    catalog.create(admin_actor, PointOfSale, channel=channel, code="WALLETPOS", name="Wallet printing")
    buyer = sales.create_contact(admin_actor, first_name="Ada", last_name="Lovelace", email="ada@example.org")
    concert = catalogue.sell_concert(2, buyer=buyer).tickets.order_by("pk")
    city_pass = catalogue.sell_pass(1, buyer=buyer).tickets.get()
    user = get_user_model().objects.create_user("operator", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    url = live_server.url

    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    # 1. the interface
    page.goto(f"{url}/admin/jobs/interface/add/")
    page.select_option("#id_type", "TIXNGO")
    page.fill("#id_name", "TIXnGO")
    page.fill("#id_url", tix.url + "/organizer/tickets")
    page.fill("#id_username", "organiser@example.org")
    page.fill("#id_secret", KEY)
    page.fill("#id_parameters_text", '{\n  "salesChannel": "WALLET",\n  "pointOfSale": "WALLETPOS",\n'
                                     '  "ticketIterationSize": 1\n}')
    save_form(page)
    assert "was added successfully" in page.inner_text("ul.messagelist"), page.inner_text("#content")

    # 2. an injection schedule with filters (concert, category CAT1: the city pass is not selected)
    add_schedule(page, url, "TIXNGO_TICKET_INJECTION", "Inject the concert",
                 '{"products": ["CONCERT"], "categoryCodes": ["CAT1"]}')
    add_schedule(page, url, "TIXNGO_FEEDBACK", "Feedback")

    # 3. run it, and see the execution
    with override_settings(TASKS=IMMEDIATE):
        run_from_list(page, url, "Inject the concert")
    execution = Execution.objects.get(schedule__name="Inject the concert")
    assert execution.status == "OK" and execution.done == 2
    page.goto(f"{url}/admin/jobs/execution/{execution.pk}/change/")
    text = page.inner_text("#content")
    assert "OK" in text and "2 tickets injected" in text
    page.screenshot(path=os.path.join(screenshot_dir, "tixngo-execution.png"), full_page=True)
    assert len(tix.requests("/organizer/tickets")) == 2  # ticketIterationSize 1
    assert str(city_pass.pk) not in tix.state()["data"]["tickets"]

    # 4. feedback, then the ticket's wallet status and blockchain log
    with override_settings(TASKS=IMMEDIATE):
        run_from_list(page, url, "Feedback")
    page.goto(f"{url}/admin/sales/ticket/?wallet_status=INJECTED")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    page.goto(f"{url}/admin/sales/ticket/{concert[0].pk}/change/")
    assert page.inner_text("[data-testid=wallet-status]") == "INJECTED"
    log = page.inner_text("table.tixngo-log")
    assert "INJECT" in log and "CONFIRMED" in log
    page.screenshot(path=os.path.join(screenshot_dir, "tixngo-wallet.png"), full_page=True)
    page.goto(f"{url}/admin/sales/ticket/{city_pass.pk}/change/")
    assert page.inner_text("[data-testid=wallet-status]") == "Not in the TIXnGO wallet"
