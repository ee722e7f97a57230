"""PayPal fixtures: the hotel of the guest tests (location LOBBY, a Single method at 5.00 and a
Variable one at 3.00 a day, a NAS client, rlm_rest calls), the PayPal sandbox on loopback (real HTTP),
an account pointing at it, and a `Guest` who buys through the portal's buy page and PayPal's
approval page like a phone would."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from passgate.connectors.paypal import client as paypal_client
from passgate.connectors.paypal import services
from passgate.connectors.paypal.models import PaypalPayment
from passgate.guest import services as guest_services
from passgate.guest.models import CountedFrom, Format
from tests.guest.conftest import Hotel

CLIENT_ID, SECRET = "passgate-client", "passgate-secret"
WEBHOOK_ID = "WH-SANDBOX-1"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    paypal_client.forget_tokens()
    yield
    paypal_client.forget_tokens()


@pytest.fixture
def hotel(admin_actor):
    h = Hotel(admin_actor)
    # the guest tests' Single method asks for a room number, which the portal does not: PayPal sells this one
    h.day = guest_services.create_method(
        admin_actor, h.location, code="PAYDAY", name="Day pass", format=Format.SINGLE, price=Decimal("5.00"),
        devices=2, duration=dt.timedelta(hours=24), counted_from=CountedFrom.FIRST_LOGIN)
    return h


@pytest.fixture
def radius(hotel):
    return hotel.radius()


class Paypal:
    """The sandbox seen from a test."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.url = handle.url

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def data(self) -> dict:
        return self.handle.state()["data"]

    def webhook(self, order_id: str, event: str, *, times: int = 1, bad_signature: bool = False,
                url: str | None = None) -> dict:
        payload = {"order_id": order_id, "event": event, "times": times, "bad_signature": bad_signature}
        if url is None:
            payload["deliver"] = False
        else:
            payload["url"] = url
        response = self.handle.control.post("/webhooks", json=payload)
        assert response.status_code == 200, response.text
        return response.json()

    def calls(self, path_part: str) -> list[dict]:
        return [r for r in self.handle.requests() if path_part in r["path"]]


@pytest.fixture
def paypal(sandbox):
    return Paypal(sandbox("paypal"))


@pytest.fixture
def account(hotel, paypal):
    return services.create_account(hotel.actor, client_id=CLIENT_ID, secret=SECRET, base_url=paypal.url,
                                   webhook_id=WEBHOOK_ID, brand_name="Hotel")


def post_webhook(client: Client, account, delivery: dict):
    headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in delivery["headers"].items()
               if k.lower() != "content-type"}
    return client.post(f"/paypal/webhooks/{account.pk}/", delivery["body"], content_type="application/json",
                       **headers)


class Guest:
    """A phone on the portal: buys, approves on PayPal's page (over real HTTP), comes back."""

    def __init__(self, hotel: Hotel, paypal: Paypal, on_commit) -> None:
        self.hotel, self.paypal, self.on_commit = hotel, paypal, on_commit
        self.client = Client()
        self.web = httpx.Client(timeout=10)

    def buy(self, method=None, *, days: int | None = None, email: str = ""):
        method = method or self.hotel.day
        data = {"method": method.code, "provider": "PAYPAL", "email": email}
        if days:
            first = timezone.localdate()
            data |= {"first_day": first.isoformat(), "last_day": (first + dt.timedelta(days=days - 1)).isoformat()}
        return self.client.post(f"/portal/demo/{self.hotel.location.code}/buy/", data)

    def approve(self, approve_url: str, *, cancel: bool = False) -> str:
        """Opens PayPal's approval page, follows its Approve (or Cancel) link; returns our URL it sends to."""
        page = self.web.get(approve_url)
        assert page.status_code == 200, page.text
        link = re.search(r"id='%s'[^>]*href='([^']+)'" % ("cancel" if cancel else "approve"), page.text)
        answer = self.web.get(self.paypal.url + link.group(1))
        assert answer.status_code == 302
        return answer.headers["location"]

    def back(self, url: str):
        parts = urlsplit(url)
        with self.on_commit(execute=True):  # the e-mail leaves once the ticket is committed
            return self.client.get(parts.path + ("?" + parts.query if parts.query else ""))

    def webhook(self, account, delivery: dict):
        with self.on_commit(execute=True):
            return post_webhook(self.client, account, delivery)

    def pay(self, method=None, *, days: int | None = None, email: str = ""):
        started = self.buy(method, days=days, email=email)
        assert started.status_code == 302, started.content
        return self.back(self.approve(started["Location"]))

    def payment(self) -> PaypalPayment:
        return PaypalPayment.objects.order_by("-pk").first()


@pytest.fixture
def guest(hotel, paypal, account, django_capture_on_commit_callbacks):
    g = Guest(hotel, paypal, django_capture_on_commit_callbacks)
    yield g
    g.web.close()
