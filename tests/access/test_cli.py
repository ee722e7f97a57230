"""`passgate scan` and `passgate door-sim`."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from passgate.access.models import Scan
from passgate.sales import services as sales

pytestmark = pytest.mark.django_db


def test_scan_command(venue):
    (t,) = venue.sell_tonight()
    out = io.StringIO()
    call_command("scan", t.barcode, device_token=venue.token, stdout=out)
    assert out.getvalue().startswith("GRANTED") and "CONCERT" in out.getvalue()
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("scan", t.barcode, device_token=venue.token, stdout=out)
    assert exc.value.code == 1 and "ALREADY_CONTROLLED" in out.getvalue()
    with pytest.raises(CommandError, match="device-token"):
        call_command("scan", t.barcode, device_token="pgd_nope")


def test_door_sim(venue):
    tickets = venue.sell_tonight(30)
    sales.cancel_ticket(venue.actor, tickets[0])
    out = io.StringIO()
    call_command("door_sim", device="SCAN-1", count=40, rate=0, seed=1, stdout=out)
    assert Scan.objects.count() == 40
    assert "granted" in out.getvalue()
    reasons = set(Scan.objects.values_list("reason", flat=True))
    assert {"", "UNKNOWN_BARCODE"} <= reasons


def test_demo_loader_is_idempotent(admin_actor, catalogue):
    from passgate.access import demo
    from passgate.access.models import Device, Sector

    demo.load_demo(admin_actor.organisation, admin_actor)
    demo.load_demo(admin_actor.organisation, admin_actor)
    assert Sector.objects.filter(organisation=admin_actor.organisation).count() == 4
    assert Device.objects.filter(organisation=admin_actor.organisation, status="ACTIVE").count() == 5


def test_door_sim_plays_the_performance_on_now_dated_now(venue, catalogue):
    from django.utils import timezone

    future = catalogue.sell_concert(3)  # a performance next week: not on now, never scanned
    venue.sell_tonight(5)
    before = timezone.now()
    call_command("door_sim", device="SCAN-1", count=5, rate=0, seed=2, mix="valid=1", stdout=io.StringIO())
    scans = list(Scan.objects.all())
    assert len(scans) == 5 and all(s.decision == "GRANTED" for s in scans)
    assert {s.performance_id for s in scans} == {venue.tonight.pk}
    assert all(before <= s.scanned_at <= timezone.now() for s in scans)
    assert not Scan.objects.filter(ticket__order=future).exists()
    with pytest.raises(CommandError, match="not on now") as exc:
        call_command("door_sim", device="SCAN-1", count=1, performance=catalogue.performance.code)
    assert exc.value.returncode == 2


def test_door_sim_refuses_a_real_organisation_unless_told(other_catalogue):
    from access.conftest import Venue

    place = Venue(other_catalogue, prefix="O")
    place.sell_tonight(3)
    with pytest.raises(CommandError, match="--yes-real-data") as exc:
        call_command("door_sim", device="OSCAN-1", count=3, rate=0, stdout=io.StringIO())
    assert exc.value.returncode == 2 and not Scan.objects.exists()
    call_command("door_sim", device="OSCAN-1", count=3, rate=0, mix="valid=1", yes_real_data=True,
                 stdout=io.StringIO())
    assert Scan.objects.filter(decision="GRANTED").count() == 3
