"""Sponsored access in a real browser (chromium against live_server): the guest asks, the sponsor
approves from the e-mail read in the SMTP sink (in a browser of their own), and the guest's
waiting page moves on by itself to the landing page with the credentials; a denial cuts the grace
access the guest was using and the waiting page says so."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest

from passgate.guest import services
from passgate.guest.models import CountedFrom, Disconnect, Format, GuestStatus, SponsorRequest, SponsorStatus
from passgate.orgs.services import Actor
from tests.guest.conftest import Hotel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hotel(org):
    hotel = Hotel(Actor.system(org, "setup"))
    method = services.create_method(hotel.actor, hotel.location, code="GUESTDAY", name="Sponsored day",
                                    format=Format.SINGLE, duration=dt.timedelta(hours=8),
                                    counted_from=CountedFrom.FIRST_LOGIN, grace_minutes=15)
    hotel.location.sponsors_allowed = "@hotel.example"
    hotel.location.sponsor_method = method
    hotel.location.save()
    return hotel


def sponsor_link(inbox, action: str) -> str:
    [(_, _, mail)] = inbox.wait_for(1)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    return urlsplit(re.search(rf"^{action}: (\S+)", text, re.M).group(1)).path


def guest_asks(page, live_server, hotel) -> None:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto(f"{live_server.url}/portal/{hotel.location.organisation.code}/LOBBY/sponsor/")
    page.fill("#guest_email", "ana@guest.example")
    page.fill("#guest_name", "Ana Lima")
    page.fill("#sponsor_email", "boss@hotel.example")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Waiting for your sponsor" in page.inner_text("#status")
    assert page.is_visible("#grace a")
    # nothing loaded from anywhere but passgate: the portal works behind a walled garden
    assert hosts == {urlsplit(live_server.url).netloc}


def sponsor_clicks(browser, live_server, path: str, button_text: str) -> str:
    context = browser.new_context()
    try:
        sponsor_page = context.new_page()
        sponsor_page.goto(live_server.url + path)
        assert button_text in sponsor_page.inner_text("#confirm")
        with sponsor_page.expect_navigation():
            sponsor_page.click("#confirm")
        return sponsor_page.inner_text("#outcome")
    finally:
        context.close()


def test_the_sponsor_approves_and_the_waiting_page_logs_the_guest_in(live_server, page, browser, hotel, smtp):
    guest_asks(page, live_server, hotel)
    outcome = sponsor_clicks(browser, live_server, sponsor_link(smtp, "Approve"), "Approve access")
    assert "access approved" in outcome

    # no reload by the guest: the page's polling moves on to the landing page
    page.wait_for_url(re.compile(r"/ticket/"), timeout=15000)
    ticket = SponsorRequest.objects.get().ticket
    assert page.inner_text("#ticket-username") == ticket.username
    assert page.inner_text("#ticket-password") == ticket.password
    [_, (_, to, _)] = smtp.wait_for(2)
    assert to == ["ana@guest.example"]


def test_the_sponsor_denies_and_the_grace_access_is_cut(live_server, page, browser, hotel, smtp):
    guest_asks(page, live_server, hotel)
    grace = SponsorRequest.objects.get().grace_ticket
    services.account(hotel.nas, services.AccountingRecord(
        status_type="Start", unique_id="grace-1", username=grace.username, acct_session_id="GRACE-1",
        nas_ip="127.0.0.1", calling_station="02-00-00-00-00-09"))

    outcome = sponsor_clicks(browser, live_server, sponsor_link(smtp, "Deny"), "Deny access")
    assert "Access denied" in outcome

    page.wait_for_selector("#status[data-status=DENIED]", timeout=15000)
    assert "declined" in page.inner_text("#status")
    assert not page.is_visible("#grace")
    grace.refresh_from_db()
    assert grace.status == GuestStatus.CANCELLED
    assert SponsorRequest.objects.get().status == SponsorStatus.DENIED
    assert Disconnect.objects.get(session__ticket=grace).attributes["Acct-Session-Id"] == "GRACE-1"
