"""A nonce is one scan: a retry of the same scan gets the first answer, a reused nonce with another
barcode, direction or time is refused (409 nonce_reused), online and in offline uploads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import Scan
from passgate.access.services import recording
from passgate.sales.models import Ticket

from .conftest import nonce

pytestmark = pytest.mark.django_db


def test_same_nonce_other_barcode_is_refused_not_granted(venue):
    t1, t2 = venue.sell_tonight(2)
    n = nonce()
    first = access.scan(venue.device, t1.barcode, n)
    assert first["decision"] == "GRANTED"
    with pytest.raises(access.NonceReused) as caught:
        access.scan(venue.device, t2.barcode, n)
    err = caught.value
    assert err.code == "nonce_reused" and err.http_status == 409 and err.field == "nonce"
    assert t1.barcode in err.expected and "ENTRY" in err.expected
    assert t2.barcode in err.found
    # nothing admitted, nothing recorded for the second card
    assert Ticket.objects.get(pk=t2.pk).control_count == 0
    assert Scan.objects.filter(barcode=t2.barcode).count() == 0
    # the genuine retry still gets the first answer
    assert access.scan(venue.device, t1.barcode, n) == first


def test_same_nonce_other_direction_or_time_is_refused(venue):
    (ticket,) = venue.sell_tonight()
    n = nonce()
    at = timezone.now()
    first = access.scan(venue.device, ticket.barcode, n, at.isoformat())
    assert access.scan(venue.device, ticket.barcode, n, at.isoformat()) == first
    with pytest.raises(access.NonceReused) as caught:
        access.scan(venue.device, ticket.barcode, n, at.isoformat(), direction="EXIT")
    assert "EXIT" in caught.value.found
    with pytest.raises(access.NonceReused):
        access.scan(venue.device, ticket.barcode, n, (at + dt.timedelta(seconds=3)).isoformat())


def test_replay_after_race_compares_the_scan(venue):
    t1, t2 = venue.sell_tonight(2)
    n = nonce()
    first = access.scan(venue.device, t1.barcode, n)
    exc = IntegrityError("duplicate")
    assert recording._replay_after_race(venue.device, n, exc, t1.barcode, "ENTRY", None) == first
    with pytest.raises(access.NonceReused):
        recording._replay_after_race(venue.device, n, exc, t2.barcode, "ENTRY", None)


def test_http_reused_nonce_is_a_409(venue):
    t1, t2 = venue.sell_tonight(2)
    client = venue.client()
    r = client.post("/api/v1/access/scans", {"barcode": t1.barcode, "nonce": "n1"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["decision"] == "GRANTED"
    r = client.post("/api/v1/access/scans", {"barcode": t2.barcode, "nonce": "n1"}, content_type="application/json")
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "nonce_reused" and body["field"] == "nonce" and t2.barcode in body["found"]


def _item(barcode, at, n, direction="ENTRY"):
    return {"barcode": barcode, "nonce": n, "scanned_at": at.isoformat(), "decision": "GRANTED",
            "direction": direction}


def test_offline_upload_refuses_a_nonce_used_for_another_scan(venue):
    t1, t2 = venue.sell_tonight(2)
    at = timezone.now() - dt.timedelta(minutes=3)
    access.upload_offline(venue.device, [_item(t1.barcode, at, "o1")])
    # the same item again is a duplicate, not an error
    assert access.upload_offline(venue.device, [_item(t1.barcode, at, "o1")])["duplicates"] == 1
    with pytest.raises(access.NonceReused) as caught:
        access.upload_offline(venue.device, [_item(t2.barcode, at, "o2"), _item(t2.barcode, at, "o1")])
    assert caught.value.field == "scans[1].nonce"
    # checked before anything is recorded: the first item of the refused batch is not recorded either
    assert not Scan.objects.filter(nonce="o2").exists()
    # within one batch as well
    with pytest.raises(access.NonceReused):
        access.upload_offline(venue.device, [_item(t2.barcode, at, "o3"), _item(t1.barcode, at, "o3")])
    # an online nonce reused offline for another card
    access.scan(venue.device, t2.barcode, "o4")
    with pytest.raises(access.NonceReused):
        access.upload_offline(venue.device, [_item(t1.barcode, at, "o4")])
