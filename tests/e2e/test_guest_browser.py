"""A front-desk operator, in a real browser: creates a Single ticket with its extra field, prints
the slip, filters the issued list by status and user ID, cancels the ticket in use and sees its
session closed once the access point's Accounting-Stop arrives (over real HTTP, as rlm_rest)."""

from __future__ import annotations

import io
import json

import httpx
import pypdf
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from passgate.guest.models import Disconnect, GuestTicket
from passgate.orgs.models import Membership, Role
from passgate.orgs.services import Actor
from tests.guest.conftest import Hotel, Radius
from tests.pdf_tools import needs_pdf_tools, qr_codes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hotel(org):
    return Hotel(Actor.system(org, "setup"))


@needs_pdf_tools
def test_operator_issues_prints_filters_and_cancels(live_server, page, hotel, org):
    user = get_user_model().objects.create_user("frontdesk", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.BOX_OFFICE)
    hotel.issue(user_id="someone@example.org")  # another ticket, to be filtered out

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "frontdesk")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/guest/guestticket/add/")
    with page.expect_navigation():
        page.select_option("select[name=type]", "INDIVIDUAL")
    with page.expect_navigation():
        page.select_option("select[name=method]", label="Day pass — Hotel lobby")
    page.fill("#id_user_id", "ana@example.org")
    page.fill("#id_extra_room", "204")
    with page.expect_navigation():
        page.click("input[value='Create ticket']")
    assert "1 ticket(s) issued" in page.inner_text("ul.messagelist")
    ticket = GuestTicket.objects.get(user_id="ana@example.org")
    assert ticket.extra == {"room": "204"}

    slip_href = page.get_attribute("ul.messagelist a", "href")
    pdf = page.request.get(live_server.url + slip_href)
    text = pypdf.PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text()
    assert ticket.username in text and ticket.password in text and "Hotel-Guest" in text
    # the slip's QR logs the phone in: the portal's URL carrying the credentials (read as a phone would)
    [code] = qr_codes(pdf.body())
    assert code == f"https://portal.example/login?username={ticket.username}&password={ticket.password}"

    # the guest logs in: the access point's accounting reaches passgate over HTTP
    radius = Radius(hotel.token)
    body = Radius.attrs(Acct_Status_Type="Start", User_Name=ticket.username, Acct_Unique_Session_Id="live-1",
                        Acct_Session_Id="LIVE-1", Calling_Station_Id="02-00-00-00-00-07",
                        NAS_IP_Address="127.0.0.1")
    headers = {"X-Passgate-Token": radius.token, "Content-Type": "application/json"}
    assert httpx.post(f"{live_server.url}/radius/accounting", content=json.dumps(body),
                      headers=headers).status_code == 204

    page.goto(f"{live_server.url}/admin/guest/guestticket/?status__exact=IN_USE&q=ana%40example.org")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and ticket.serial in rows.first.inner_text()

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "cancel")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "Disconnect-Request is on its way" in page.inner_text("ul.messagelist")
    assert Disconnect.objects.get().attributes["Acct-Session-Id"] == "LIVE-1"

    # the operator watches the ticket's page while the access point's Stop arrives: the sessions
    # table refreshes itself (sessions-live.js), no reload
    page.goto(f"{live_server.url}/admin/guest/guestticket/{ticket.pk}/change/")
    sessions = page.locator("#guest-sessions")
    assert "02-00-00-00-00-07" in sessions.inner_text() and "open" in sessions.inner_text()
    assert "Admin-Reset" not in sessions.inner_text()
    body.update(Radius.attrs(Acct_Status_Type="Stop", Acct_Terminate_Cause="Admin-Reset"))
    httpx.post(f"{live_server.url}/radius/accounting", content=json.dumps(body), headers=headers)
    expect(sessions).to_contain_text("Admin-Reset", timeout=20_000)
    assert GuestTicket.objects.get(pk=ticket.pk).status == "CANCELLED"
