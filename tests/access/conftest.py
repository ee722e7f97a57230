"""Access-control fixtures: a sector with a door and an enrolled device, a
performance that is on now, and helpers to sell and scan."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from passgate.access import services as access
from passgate.catalog import services as catalog
from passgate.catalog.models import Performance
from passgate.sales import services as sales


class Venue:
    """Sector MAIN (concert tonight + city pass), door D1 with device SCAN-1, door D2 with SCAN-2."""

    def __init__(self, catalogue, prefix: str = "") -> None:
        self.catalogue = catalogue
        actor = catalogue.actor
        self.actor = actor
        now = timezone.now()
        self.tonight = catalog.create(
            actor, Performance, product=catalogue.concert, code=f"{prefix}TONIGHT", name="Tonight",
            starts_at=now - dt.timedelta(minutes=30), ends_at=now + dt.timedelta(hours=2),
            doors_open_at=now - dt.timedelta(hours=1))
        self.sector = access.create_sector(actor, f"{prefix}MAIN", "Main hall")
        self.rule = access.add_rule(actor, self.sector, catalogue.concert)
        self.pass_rule = access.add_rule(actor, self.sector, catalogue.pass_product)
        self.door = access.create_door(actor, self.sector, f"{prefix}D1", "Door 1")
        self.door2 = access.create_door(actor, self.sector, f"{prefix}D2", "Door 2")
        self.device, self.token = self.enrol(self.door, f"{prefix}SCAN-1")
        self.device2, self.token2 = self.enrol(self.door2, f"{prefix}SCAN-2")

    def enrol(self, door, name):
        device, code = access.create_device(self.actor, door, name)
        return access.enrol_device(code)

    def sell_tonight(self, quantity: int = 1, **kwargs):
        c = self.catalogue
        line = sales.SaleLine(product=c.concert, tariff=c.full_price, performance=self.tonight,
                              category=c.category, quantity=quantity)
        order = sales.sell(self.actor, sales.SaleRequest(channel=c.box_office, lines=[line], **kwargs))
        return list(order.tickets.order_by("id"))

    def sell_pass(self, quantity: int = 1):
        return list(self.catalogue.sell_pass(quantity).tickets.order_by("id"))

    def client(self, token=None) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token or self.token}")


def nonce() -> str:
    return uuid.uuid4().hex


def do_scan(device, barcode, direction="ENTRY", **kwargs):
    return access.scan(device, barcode, kwargs.pop("nonce", None) or nonce(), direction=direction, **kwargs)


@pytest.fixture
def venue(catalogue):
    return Venue(catalogue)


@pytest.fixture
def device(venue):
    return venue.device


def role_client(actor, role) -> Client:
    from passgate.orgs.services import issue_api_token

    _, plaintext = issue_api_token(actor, f"role-{role}", role)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture(autouse=True)
def _fresh_access_cache():
    from passgate.access import cache

    cache.clear()
    yield
    cache.clear()
