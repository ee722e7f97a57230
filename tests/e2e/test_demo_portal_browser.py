"""The guest portal of `make demo` itself, in chromium: `passgate demo` runs as a person starts it
(gunicorn, worker, scheduler, FreeRADIUS, the PayPal, SMS, PMS and hotspot stand-ins), and a guest
arrives the way a CoovaChilli controller sends them (uamip/uamport pointing at the hotspot
stand-in, which logs them in over real RADIUS). Each way of getting access ends on the stand-in's
page with FreeRADIUS's Access-Accept:

- buying a Variable ticket for 3 days through the PayPal sandbox;
- a code by SMS, read from the SMS gateway sandbox;
- a sponsor approving from the e-mail read in the SMTP sink — and a denial cutting the grace access
  with a Disconnect-Request the stand-in receives;
- a hotel guest of the PMS stand-in, with room number and name.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.e2e.demo_process import start_demo, stop_demo

pytestmark = [pytest.mark.browser]

HOTSPOT = "http://127.0.0.1:8107"  # sandboxes.registry.DEMO_SANDBOXES
SMS = "http://127.0.0.1:8104"
PORTAL = "/portal/demo/LOBBY/"
_macs = itertools.count(0x21)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    running, smtp = start_demo(tmp_path_factory.mktemp("demo"))
    # the stand-in NAS answers Disconnect/CoA where the demo's NAS client says (127.0.0.1:3799)
    httpx.post(f"{HOTSPOT}/_sandbox/seed", json={"coa_port": 3799}, timeout=10).raise_for_status()
    yield running
    stop_demo(running, smtp)


def hotspot_state() -> dict:
    return httpx.get(f"{HOTSPOT}/_sandbox/state", timeout=10).json()["data"]


def arrive(page, demo, path: str = "") -> None:
    """The guest opens a web page; the controller redirects them to the portal with its parameters."""
    mac = f"02-00-00-00-00-{next(_macs):02x}"
    query = urlencode({"uamip": "127.0.0.1", "uamport": "8107", "challenge": "00112233445566778899aabbccddeeff",
                       "userurl": "http://example.org/", "mac": mac})
    page.goto(f"{demo.url}{PORTAL}?{query}")
    if path:
        page.goto(f"{demo.url}{PORTAL}{path}")


def connected(page, username: str | None = None) -> None:
    """The browser ended on the controller's page, which FreeRADIUS accepted."""
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:8107/logon"), timeout=30_000)
    assert page.inner_text("h1") == "You are connected", page.content()
    assert "Session-Timeout" in page.inner_text("body")
    if username:
        assert {"username": username, "code": "Access-Accept"}.items() <= hotspot_state()["logins"][-1].items()


def test_a_guest_buys_three_days_with_paypal_and_is_logged_in(demo, page):
    arrive(page, demo, "buy/")
    first = dt.date.today()
    page.check("#method-STAY")  # Variable, priced per day
    page.fill("#first_day", first.isoformat())
    page.fill("#last_day", (first + dt.timedelta(days=2)).isoformat())
    page.fill("#email", "buyer@example.com")
    with page.expect_navigation():
        page.click("button[value=PAYPAL]")
    assert urlsplit(page.url).port == 8105  # the PayPal sandbox's approval page
    assert "9.00" in page.inner_text("body")
    page.click("text=Approve")
    page.wait_for_url(re.compile(r"/ticket/"), timeout=30_000)
    username = page.inner_text("#ticket-username")
    connected(page, username)


def test_a_guest_gets_a_code_by_sms_and_logs_in(demo, page):
    arrive(page, demo, "sms/")
    page.fill("#phone", "+33 6 12 34 56 78")
    with page.expect_navigation():
        page.click("button[type=submit]")
    messages = httpx.get(f"{SMS}/_sandbox/state", timeout=10).json()["data"]["messages"]
    text = messages[-1]["text"]
    assert messages[-1]["to"] == "+33612345678"
    username, password = re.search(r"user (\S+) password (\S+),", text).groups()
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    connected(page, username)


def sponsor_link(demo, action: str, known: int) -> str:
    [*_, (_, _, mail)] = demo.inbox.wait_for(known + 1, timeout=30)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"^{action}: (\S+)", text, re.M).group(1)


def ask_sponsor(demo, page, guest: str) -> int:
    known = len(demo.inbox.messages)
    arrive(page, demo, "sponsor/")
    page.fill("#guest_email", guest)
    page.fill("#guest_name", "Ana Lima")
    page.fill("#sponsor_email", "manager@hotel.example")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.is_visible("#status")
    return known


def sponsor_decides(browser, link: str, button: str) -> None:
    context = browser.new_context()
    try:
        sponsor = context.new_page()
        sponsor.goto(link)
        assert button in sponsor.inner_text("#confirm")
        with sponsor.expect_navigation():
            sponsor.click("#confirm")
    finally:
        context.close()


def test_a_sponsor_approves_from_the_email_and_the_guest_is_logged_in(demo, page, browser):
    known = ask_sponsor(demo, page, "ana@guest.example")
    sponsor_decides(browser, sponsor_link(demo, "Approve", known), "Approve access")
    page.wait_for_url(re.compile(r"/ticket/"), timeout=30_000)  # the waiting page moved on by itself
    username = page.inner_text("#ticket-username")
    connected(page, username)


def test_a_sponsor_denial_cuts_the_grace_access(demo, page, browser):
    known = ask_sponsor(demo, page, "leo@guest.example")
    waiting = page.url
    page.click("#grace a")  # the short access while the sponsor reads the mail
    page.wait_for_url(re.compile(r"/ticket/"), timeout=30_000)
    grace = page.inner_text("#ticket-username")
    connected(page, grace)
    assert grace in hotspot_state()["sessions"]

    sponsor_decides(browser, sponsor_link(demo, "Deny", known), "Deny access")
    deadline = time.monotonic() + 60  # the demo's worker sends the Disconnect-Request
    while grace in hotspot_state()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.5)
    state = hotspot_state()
    assert grace not in state["sessions"]
    assert any(r["code"] == 40 and r.get("User-Name") == [grace] for r in state["received"])  # Disconnect-Request
    page.goto(waiting)
    page.wait_for_selector("#status[data-status=DENIED]", timeout=15_000)


def test_a_hotel_guest_logs_in_with_room_and_name(demo, page):
    # the PMS stand-in checks Mr Martin into room 101; `passgate pms` issued his stay's ticket
    arrive(page, demo, "hotel/")
    page.fill("#room", "101")
    page.fill("#last_name", "martin")
    page.click("button[type=submit]")
    connected(page)
    assert hotspot_state()["logins"][-1]["code"] == "Access-Accept"
