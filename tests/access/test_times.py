"""Times in the access API are in the organisation's zone, ISO 8601 with offset, to the second."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.catalog import services as catalog
from passgate.catalog.models import Performance

from .conftest import nonce

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
LOCAL_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")  # no microseconds, an offset


def test_scan_answer_times_are_local_with_offset_and_messages_in_words(venue, catalogue):
    now = timezone.now()
    starts = dt.datetime.combine(now.astimezone(PARIS).date(), dt.time(19, 0), tzinfo=PARIS)
    show = catalog.create(venue.actor, Performance, product=catalogue.concert, code="SEVEN", name="Seven",
                          starts_at=starts, ends_at=starts + dt.timedelta(hours=30),
                          doors_open_at=starts - dt.timedelta(hours=30))
    from passgate.sales import services as sales
    line = sales.SaleLine(product=catalogue.concert, tariff=catalogue.full_price, performance=show,
                          category=catalogue.category)
    ticket = sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line])).tickets.get()
    at = now.replace(microsecond=123456)
    first = access.scan(venue.device, ticket.barcode, nonce(), at.isoformat(), now=at)
    assert first["decision"] == "GRANTED"
    assert first["ticket"]["performance_starts_at"] == starts.isoformat()  # e.g. …T19:00:00+02:00
    assert LOCAL_ISO.match(first["scanned_at"]), first["scanned_at"]
    assert dt.datetime.fromisoformat(first["scanned_at"]).utcoffset() == at.astimezone(PARIS).utcoffset()
    again = access.scan(venue.device2, ticket.barcode, nonce(), now=at + dt.timedelta(seconds=5))
    assert again["reason"] == "ALREADY_CONTROLLED"
    assert again["message"] == f"Already used today at {at.astimezone(PARIS):%H:%M} (door D1)"
    assert LOCAL_ISO.match(again["previous"]["at"])


def test_device_and_scan_lists_over_http_are_local(venue, api_client):
    (ticket,) = venue.sell_tonight()
    access.scan(venue.device, ticket.barcode, nonce())
    body = api_client.get("/api/v1/access/scans").json()
    assert body["items"] and all(LOCAL_ISO.match(i["scanned_at"]) for i in body["items"])
    devices = api_client.get("/api/v1/access/devices").json()
    enrolled = [d["enrolled_at"] for d in devices["items"] if d["enrolled_at"]]
    assert enrolled and all(LOCAL_ISO.match(v) for v in enrolled)
    package = venue.client().get("/api/v1/access/package").json()
    assert LOCAL_ISO.match(package["generated_at"])
    assert all(LOCAL_ISO.match(p["starts_at"]) for p in package["performances"].values())
