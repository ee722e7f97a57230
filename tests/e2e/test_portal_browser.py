"""A guest on a phone, in a real browser: arrives on the captive portal through a CoovaChilli-style
redirect, asks for a code by SMS (read from the SMS gateway sandbox), logs in, and lands on the
controller's logon URL — a tiny local HTTP server standing in for the controller's UAM port."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from passgate.guest.models import GuestTicket
from passgate.orgs.services import Actor
from tests.guest.conftest import Hotel
from tests.guest.test_portal import Portal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Controller:
    """Plays the controller's UAM server: records each request and answers "logged in"."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                seen.append(self.path)
                body = b"<html><body><h1 id='chilli'>You are logged in</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def controller():
    stub = Controller()
    yield stub
    stub.close()


@pytest.fixture
def site(org):
    return Portal(Hotel(Actor.system(org, "setup")))


def test_guest_gets_a_code_by_sms_and_is_handed_to_the_controller(live_server, browser, site, controller,
                                                                  sandbox, settings):
    sms = sandbox("sms")
    settings.GUEST_SMS_BACKEND, settings.GUEST_SMS_URL = "http", sms.url
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")  # a French phone
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        arrival = (f"{live_server.url}{site.url('portal-home')}?uamip=127.0.0.1&uamport={controller.port}"
                   f"&challenge={'ab' * 16}&userurl=http%3A%2F%2Fexample.org%2F&mac=AA-BB-CC-DD-EE-01")
        page.goto(arrival)
        assert page.get_attribute("html", "lang") == "fr"
        page.click("text=English")  # the language switcher
        assert page.get_attribute("html", "lang") == "en"
        page.click("text=Get a code by SMS")
        assert page.evaluate("document.activeElement.id") == "phone"  # focus where the guest types
        page.fill("#phone", "+33 6 12 34 56 78")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "We sent your username and password to +33612345678" in page.inner_text("main")
        [message] = sms.state()["data"]["messages"]
        username, password = re.search(r"user (\S+) password (\S+),", message["text"]).groups()
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("#chilli")
        landed = urlsplit(page.url)
        assert (landed.hostname, landed.port, landed.path) == ("127.0.0.1", controller.port, "/logon")
        assert parse_qs(landed.query) == {"username": [username], "password": [password],
                                          "userurl": ["http://example.org/"]}
        assert controller.seen[0].startswith("/logon?")  # the browser itself went there
        ticket = GuestTicket.objects.get(username=username)
        assert (ticket.type, ticket.user_id) == ("SMS", "+33612345678")
    finally:
        context.close()
