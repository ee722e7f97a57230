"""Offline upload: OFFLINE_OK / OFFLINE_FAIL, idempotent, never refused, conflicts flagged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import ConflictKind, Operation, Scan, ScanConflict
from passgate.access.reports import attendance, reconciliation
from passgate.sales import services as sales
from passgate.sales.models import Ticket

from .conftest import do_scan, nonce

pytestmark = pytest.mark.django_db


def item(barcode, at, decision="GRANTED", direction="ENTRY", reason=None, n=None):
    return {"barcode": barcode, "nonce": n or nonce(), "scanned_at": at.isoformat(), "decision": decision,
            "direction": direction, "reason": reason}


def test_upload_records_offline_operations_and_counts(venue):
    t1, t2 = venue.sell_tonight(2)
    now = timezone.now()
    batch = [item(t1.barcode, now - dt.timedelta(minutes=5)),
             item(t2.barcode, now - dt.timedelta(minutes=4), decision="DENIED", reason="NOT_YET_VALID")]
    result = access.upload_offline(venue.device, batch)
    assert result == {"recorded": 2, "duplicates": 0, "conflicts": [], "queued_for_postsync": 0}
    ops = dict(Scan.objects.filter(device=venue.device).values_list("barcode", "operation"))
    assert ops == {t1.barcode: Operation.OFFLINE_OK, t2.barcode: Operation.OFFLINE_FAIL}
    t1.refresh_from_db()
    assert t1.control_count == 1 and t1.inside and t1.first_controlled_at == now - dt.timedelta(minutes=5)
    # same batch again: nothing changes
    again = access.upload_offline(venue.device, batch)
    assert again["recorded"] == 0 and again["duplicates"] == 2
    assert Scan.objects.count() == 2 and Ticket.objects.get(pk=t1.pk).control_count == 1
    # and the ticket is now used for an online scan too
    assert do_scan(venue.device2, t1.barcode)["reason"] == "ALREADY_CONTROLLED"


def test_single_entry_admitted_at_two_doors_offline_is_a_conflict(venue):
    (ticket,) = venue.sell_tonight()
    now = timezone.now()
    access.upload_offline(venue.device, [item(ticket.barcode, now - dt.timedelta(minutes=10))])
    result = access.upload_offline(venue.device2, [item(ticket.barcode, now - dt.timedelta(minutes=8))])
    assert result["recorded"] == 1  # history is never refused
    assert [c["kind"] for c in result["conflicts"]] == [ConflictKind.DOUBLE_ENTRY]
    conflict = ScanConflict.objects.get()
    assert conflict.other_scan.door.code == "D1" and conflict.scan.door.code == "D2"
    assert conflict.performance_id == venue.tonight.pk and conflict.sector_id == venue.sector.pk
    assert Ticket.objects.get(pk=ticket.pk).control_count == 2
    groups = reconciliation(venue.actor.organisation)
    assert len(groups) == 1 and groups[0]["kinds"] == {"DOUBLE_ENTRY": 1}


def test_offline_entry_after_online_entry_is_a_conflict(venue):
    (ticket,) = venue.sell_tonight()
    assert do_scan(venue.device, ticket.barcode)["decision"] == "GRANTED"
    result = access.upload_offline(venue.device2, [item(ticket.barcode, timezone.now())])
    assert [c["kind"] for c in result["conflicts"]] == ["DOUBLE_ENTRY"]


def test_cancelled_before_offline_entry_is_a_conflict_but_after_is_not(venue):
    t1, t2 = venue.sell_tonight(2)
    sales.cancel_ticket(venue.actor, t1)
    t1.refresh_from_db()
    result = access.upload_offline(venue.device, [item(t1.barcode, t1.cancelled_at + dt.timedelta(minutes=1))])
    assert [c["kind"] for c in result["conflicts"]] == [ConflictKind.CANCELLED_BEFORE_ENTRY]
    entered = timezone.now()
    sales.invalidate_ticket(venue.actor, t2)  # after the entry: the entry was legitimate
    result = access.upload_offline(venue.device, [item(t2.barcode, entered)])
    assert result["conflicts"] == []


def test_replaced_and_unknown_barcodes_admitted_offline(venue):
    (ticket,) = venue.sell_tonight()
    sales.print_ticket(venue.actor, ticket)
    old = ticket.barcode
    sales.reprint_ticket(venue.actor, ticket)
    result = access.upload_offline(venue.device, [item(old, timezone.now()), item("GHOST", timezone.now())])
    kinds = sorted(c["kind"] for c in result["conflicts"])
    assert kinds == ["REPLACED_BEFORE_ENTRY", "UNKNOWN_BARCODE_ADMITTED"]
    assert Scan.objects.get(barcode=old).ticket_id == ticket.pk


def test_reentry_after_exit_offline_is_not_a_conflict_where_allowed(venue):
    access.update_sector(venue.actor, venue.sector, reentry_allowed=True)
    venue.device.door.sector.refresh_from_db()
    (ticket,) = venue.sell_tonight()
    now = timezone.now()
    result = access.upload_offline(venue.device, [
        item(ticket.barcode, now - dt.timedelta(minutes=30)),
        item(ticket.barcode, now - dt.timedelta(minutes=20), direction="EXIT"),
        item(ticket.barcode, now - dt.timedelta(minutes=10)),
    ])
    assert result["recorded"] == 3 and result["conflicts"] == []
    assert Ticket.objects.get(pk=ticket.pk).inside


def test_bad_offline_input_names_the_field(venue):
    client = venue.client()
    r = client.post("/api/v1/access/scans/offline", {"scans": [{"barcode": "X", "nonce": "n",
                                                                "scanned_at": "2026-01-01T10:00:00",
                                                                "decision": "GRANTED"}]},
                    content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "scans[0].scanned_at"
    r = client.post("/api/v1/access/scans/offline", {"scans": [{"barcode": "X", "nonce": "n",
                                                                "scanned_at": "2026-01-01T10:00:00Z",
                                                                "decision": "MAYBE"}]},
                    content_type="application/json")
    # an unknown value of an enumeration is a 422 naming the allowed ones, like the schema's refusals
    assert r.status_code == 422 and r.json()["field"] == "scans[0].decision"
    r = client.post("/api/v1/access/scans/offline", {"scans": [{"barcode": "X", "scanned_at": "2026-01-01T10:00Z",
                                                                "decision": "DENIED"}]},
                    content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "scans[0].nonce"
    r = client.post("/api/v1/access/scans/offline", {"scans": [item("X", timezone.now())]},
                    content_type="application/json")
    assert r.status_code == 200 and r.json()["recorded"] == 1


def test_attendance_per_performance_and_sector(venue):
    t1, t2, t3 = venue.sell_tonight(3)
    do_scan(venue.device, t1.barcode)
    do_scan(venue.device, t2.barcode)
    do_scan(venue.device, t2.barcode)
    do_scan(venue.device, t2.barcode, direction="EXIT")
    do_scan(venue.device, "UNKNOWN")
    rows = attendance(venue.actor.organisation)
    tonight = next(r for r in rows if r["performance"] == "TONIGHT")
    assert (tonight["entered"], tonight["inside"], tonight["exits"]) == (2, 1, 1)
    assert tonight["denied"] == {"ALREADY_CONTROLLED": 1}
    unknown = next(r for r in rows if r["performance"] is None and r["product"] is None)
    assert unknown["denied"] == {"UNKNOWN_BARCODE": 1}
