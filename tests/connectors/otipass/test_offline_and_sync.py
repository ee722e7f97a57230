"""Offline devices with Otipass cards, the post-sync run's WARNING for a late refusal, and the
barcode synchronisation (cursor, block list, tariffs, Retry-After), over real HTTP."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.access.maintenance import POSTSYNC
from passgate.access.models import ExternalBarcode, PostSync, Scan
from passgate.access.offline import OfflineDevice
from passgate.access.package import build_package
from passgate.connectors.otipass.functions import BARCODE_SYNC, CURSOR
from passgate.jobs import services as jobs
from passgate.jobs.apps import SYSTEM_TYPE
from passgate.jobs.models import ExecutionItem, PartnerCall, Schedule, ScheduleState
from passgate.jobs.runner import run_schedule

from .conftest import ACTIVE, ACTIVE_2, ACTIVE_3, BLOCKED, ELSEWHERE, EXPIRED, PROJECT, iso

pytestmark = pytest.mark.django_db


def offline_device(venue) -> OfflineDevice:
    device = OfflineDevice()
    device.sync(lambda cursor, limit: build_package(venue.sector, cursor, limit))
    return device


def test_offline_device_admits_by_format_and_a_late_refusal_is_a_warning_with_the_reason(otipass):
    venue = otipass.venue
    device = offline_device(venue)
    assert device.header["connector_rules"][0]["connector"] == "OTIPASS"
    now = timezone.now()
    assert device.decide(ACTIVE, now) == ("GRANTED", "")
    assert device.decide(EXPIRED, now) == ("GRANTED", "")  # only the format is known offline
    assert device.decide(ACTIVE[:-1] + str((int(ACTIVE[-1]) + 1) % 10), now)[0] == "DENIED"
    result = access.upload_offline(venue.device, device.history)
    assert result["queued_for_postsync"] == 2

    jobs.ensure_builtin_schedules(venue.actor.organisation)
    schedule = Schedule.objects.get(organisation=venue.actor.organisation, interface__type=SYSTEM_TYPE,
                                    function=POSTSYNC)
    execution = run_schedule(schedule.pk)
    assert execution.status == "WARNING"
    items = {i.object_ref: i for i in ExecutionItem.objects.filter(execution=execution)}
    assert items[ACTIVE].outcome == "DONE"
    late = items[EXPIRED]
    assert late.outcome == "FAILED" and late.partner_code == "EXPIRED"
    assert "already inside" in late.message
    # both reached Otipass as offline usages at their real time; the late one is recorded refused
    scans = {s.barcode: s for s in Scan.objects.filter(barcode__in=[ACTIVE, EXPIRED])}
    [usage] = otipass.usages(EXPIRED)
    assert usage["recordedLate"] is True and usage["usedAt"] == iso(scans[EXPIRED].scanned_at)
    assert scans[EXPIRED].postsync_status == PostSync.FAILED
    assert scans[ACTIVE].postsync_status == PostSync.DONE and scans[ACTIVE].recorded_barcode.startswith(f"OTI{ACTIVE}")


def sync_schedule(otipass, page_size=2):
    return jobs.create_schedule(otipass.venue.actor, interface=otipass.interface, function=BARCODE_SYNC,
                                parameters_text=json.dumps({"page_size": page_size}))


def test_barcode_sync_imports_the_whitelist_and_resumes_from_its_cursor(otipass):
    venue = otipass.venue
    schedule = sync_schedule(otipass)
    first = run_schedule(schedule.pk)
    assert first.status == "OK" and first.done == 6
    cards = {e.barcode: e for e in ExternalBarcode.objects.filter(organisation=venue.actor.organisation)}
    assert set(cards) == {ACTIVE, ACTIVE_2, ACTIVE_3, EXPIRED, BLOCKED, ELSEWHERE}
    assert cards[ACTIVE].source == "OTIPASS" and cards[ACTIVE].season_code == "S26"
    assert cards[ACTIVE].product_code == "PASS48" and cards[ACTIVE].tariff == venue.catalogue.pass_tariff
    assert cards[ACTIVE_3].tariff is None  # PASS24 is not in tariffMapping
    assert (cards[BLOCKED].status, cards[BLOCKED].block_reason) == ("BLOCKED", "BLOCKED")
    assert cards[EXPIRED].status == "BLOCKED" and cards[ACTIVE].status == "ACTIVE"
    cursor = ScheduleState.objects.get(schedule=schedule, key=CURSOR).value

    # nothing changed: nothing imported; then one pass blocked at Otipass: only it comes back
    assert run_schedule(schedule.pk).selected == 0
    otipass.handle.control.post(f"/passes/{PROJECT}/{ACTIVE}/block").raise_for_status()
    again = run_schedule(schedule.pk)
    assert again.done == 1
    assert list(ExecutionItem.objects.filter(execution=again).values_list("object_ref", flat=True)) == [ACTIVE]
    assert ExternalBarcode.objects.get(barcode=ACTIVE).status == "BLOCKED"
    assert ScheduleState.objects.get(schedule=schedule, key=CURSOR).value != cursor

    # offline, before any scan: the blocked card is refused by the block list, the others known
    device = offline_device(venue)
    assert ACTIVE in device.blocked and ACTIVE_2 in device.valid
    assert device.decide(ACTIVE, timezone.now()) == ("DENIED", "BLOCKED")
    assert device.decide(ACTIVE_2, timezone.now())[0] == "GRANTED"


def test_barcode_sync_waits_a_429_out(otipass):
    otipass.handle.faults(rate_limit={"count": 1, "retry_after": 1})
    execution = run_schedule(sync_schedule(otipass, page_size=100).pk)
    assert execution.status == "OK" and execution.done == 6
    statuses = list(PartnerCall.objects.filter(execution=execution).order_by("pk").values_list("status", flat=True))
    assert statuses[:2] == [429, 200]


def test_test_connection_checks_credentials_project_and_each_service(otipass):
    venue = otipass.venue
    report = jobs.test_connection(venue.actor, otipass.interface)
    assert report.ok, report
    assert [c[0] for c in report.checks] == ["URL", "project", "credentials", "service S-MAIN (sector MAIN)"]

    otipass.set_parameters(sectorInfos={"MAIN": {"OtipassServiceId": "S-NOPE", "OtipassPSpaceId": "PROVIDER#X",
                                                 "seasonCode": "S26", "productCode": "PASS"}})
    report = jobs.test_connection(venue.actor, otipass.interface)
    assert not report.ok and report.checks[-1][:2] == ("service S-NOPE (sector MAIN)", False)

    interface = jobs.update_interface(venue.actor, otipass.interface, secret="wrong-key")
    report = jobs.test_connection(venue.actor, interface)
    assert not report.ok and ("credentials", False) in [c[:2] for c in report.checks]

    interface.parameters = {**interface.parameters, "OtipassProjectId": "nowhere"}
    report = jobs.test_connection(venue.actor, interface)
    assert not report.ok and ("project", False) in [c[:2] for c in report.checks]
