"""Post-synchronisation: runs claim their cards (never one card twice at once, a killed run's claims
expire), a partner refusal is FAILED with its reason, and the built-in SYSTEM functions run it (and
the change-log pruning) through the jobs machinery."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connections
from django.utils import timezone

from passgate.access import connectors
from passgate.access import services as access
from passgate.access.maintenance import POSTSYNC, PRUNE_CHANGES
from passgate.access.models import AccessChange, PostSync, Scan
from passgate.access.services.postsync import claim_postsync
from passgate.jobs import registry
from passgate.jobs import services as jobs
from passgate.jobs.apps import SYSTEM_TYPE
from passgate.jobs.models import ExecutionItem, Schedule
from passgate.jobs.runner import run_schedule

from .conftest import Venue, nonce


class CountingPartner(connectors.AccessConnector):
    """Counts post_sync calls per reference; cards ending in 7 are refused as recorded late."""

    name = "COUNTING"

    def __init__(self, barrier: threading.Barrier | None = None):
        self.calls: Counter = Counter()
        self.lock = threading.Lock()
        self.barrier = barrier
        self.down = False
        self.waited: set[int] = set()

    def format_rules(self, sector, interface):
        return [{"kind": "prefix", "value": "CP"}]

    def validate(self, check):
        raise connectors.PartnerUnavailable("down")

    def post_sync(self, scan, interface):
        if self.barrier is not None and threading.get_ident() not in self.waited:
            # each run waits for the other to be calling the partner too: the runs overlap for sure
            self.waited.add(threading.get_ident())
            try:
                self.barrier.wait(timeout=20)
            except threading.BrokenBarrierError:
                pass
        if self.down:
            raise connectors.PartnerUnavailable("still down")
        with self.lock:
            self.calls[f"{scan.device_id}:{scan.nonce}"] += 1
        if scan.barcode.endswith("7"):
            return connectors.PartnerDecision(False, partner_reason="recordedLate",
                                              message="the visitor was already inside")
        return connectors.PartnerDecision(True, recorded_barcode=f"CP-{scan.barcode}")


def _setup(venue, partner):
    registry.register_type(registry.InterfaceTypeSpec(code="COUNTING", label="Counting partner", access=partner))
    interface = jobs.create_interface(venue.actor, type="COUNTING", name="Counting", url="http://127.0.0.1:9")
    access.update_sector(venue.actor, venue.sector, interface=interface)
    venue.device.door.sector.refresh_from_db()
    return interface


def _queue(venue, cards):
    at = timezone.now() - dt.timedelta(minutes=5)
    items = [{"barcode": c, "nonce": nonce(), "scanned_at": at.isoformat(), "decision": "GRANTED"} for c in cards]
    assert access.upload_offline(venue.device, items)["queued_for_postsync"] == len(cards)


@pytest.fixture
def counting(venue):
    partner = CountingPartner()
    interface = _setup(venue, partner)
    yield partner, interface
    registry.unregister_type("COUNTING")


@pytest.mark.django_db
def test_refusal_is_failed_with_the_partners_reason(venue, counting):
    partner, interface = counting
    _queue(venue, ["CP100001", "CP100007"])
    assert access.run_postsync(interface) == {"done": 1, "failed": 1, "pending": 0}
    late = Scan.objects.get(barcode="CP100007")
    assert late.postsync_status == PostSync.FAILED and "recordedLate" in late.postsync_detail
    assert Scan.objects.get(barcode="CP100001").postsync_status == PostSync.DONE


@pytest.mark.django_db
def test_a_killed_runs_claims_expire_and_are_taken_again(venue, counting):
    partner, interface = counting
    _queue(venue, ["CP200001", "CP200002"])
    # a run claimed both then died: while its claims hold, nobody sends them
    claim_postsync(interface, 10, "dead-run")
    assert access.run_postsync(interface) == {"done": 0, "failed": 0, "pending": 0}
    assert not partner.calls
    # its claims expired (taken long ago): the next run sends them
    Scan.objects.update(postsync_claim="", postsync_claimed_until=None)
    claim_postsync(interface, 10, "dead-run", now=timezone.now() - dt.timedelta(hours=1))
    assert access.run_postsync(interface) == {"done": 2, "failed": 0, "pending": 0}
    assert set(partner.calls.values()) == {1}


@pytest.mark.django_db
def test_partner_down_leaves_cards_pending_and_releases_them(venue, counting):
    partner, interface = counting
    _queue(venue, ["CP300001"])
    partner.down = True
    assert access.run_postsync(interface) == {"done": 0, "failed": 0, "pending": 1}
    row = Scan.objects.get(barcode="CP300001")
    assert row.postsync_status == PostSync.PENDING and row.postsync_claim == "" and row.postsync_attempts == 1
    partner.down = False
    assert access.run_postsync(interface)["done"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_send_each_card_exactly_once(catalogue):
    venue = Venue(catalogue)
    partner = CountingPartner(threading.Barrier(2))
    interface = _setup(venue, partner)
    try:
        cards = [f"CP4{i:05d}" for i in range(60)]
        _queue(venue, cards)
        results, errors = [], []

        def run():
            try:
                results.append(access.run_postsync(interface, limit=1000))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert len(partner.calls) == len(cards) and set(partner.calls.values()) == {1}, partner.calls
        assert sum(r["done"] + r["failed"] for r in results) == len(cards)
        assert all(r["done"] + r["failed"] > 0 for r in results)  # both runs took part
        assert not Scan.objects.filter(postsync_status=PostSync.PENDING).exists()
    finally:
        registry.unregister_type("COUNTING")


def _system_schedule(venue, function, parameters=None):
    """The organisation's own built-in schedule of that function (created by jobs for every
    organisation); its parameters are set directly, as the back office offers only enabled
    and frequency for a built-in schedule."""
    jobs.ensure_builtin_schedules(venue.actor.organisation)
    schedule = Schedule.objects.get(organisation=venue.actor.organisation, interface__type=SYSTEM_TYPE,
                                    function=function)
    if parameters is not None:
        Schedule.objects.filter(pk=schedule.pk).update(parameters=parameters)
    return schedule


@pytest.mark.django_db
def test_builtin_postsync_runs_through_the_jobs_machinery(venue, counting):
    partner, interface = counting
    _queue(venue, ["CP500001", "CP500007"])
    spec = registry.get_function(SYSTEM_TYPE, POSTSYNC)
    assert spec.builtin and 1 <= spec.default_frequency_minutes <= 5
    schedule = _system_schedule(venue, POSTSYNC)
    execution = run_schedule(schedule.pk)
    items = {i.object_ref: (i.outcome, i.partner_code) for i in ExecutionItem.objects.filter(execution=execution)}
    assert items == {"CP500001": ("DONE", ""), "CP500007": ("FAILED", "recordedLate")}
    execution.refresh_from_db()
    assert execution.status == "WARNING" and "1 card(s) synchronised" in execution.summary
    assert sum(partner.calls.values()) == 2
    # nothing left: the next run has nothing to do
    execution = run_schedule(schedule.pk)
    assert not ExecutionItem.objects.filter(execution=execution).exists()


@pytest.mark.django_db
def test_builtin_prune_keeps_the_retention_it_is_given(venue):
    venue.sell_tonight(2)  # two change-log entries
    assert AccessChange.objects.filter(organisation=venue.actor.organisation).count() >= 1
    AccessChange.objects.update(at=timezone.now() - dt.timedelta(days=10))
    spec = registry.get_function(SYSTEM_TYPE, PRUNE_CHANGES)
    assert spec.builtin and spec.default_frequency_minutes == 24 * 60
    schedule = _system_schedule(venue, PRUNE_CHANGES, {"keep_days": 30})
    run_schedule(schedule.pk)
    assert AccessChange.objects.exists()
    schedule = _system_schedule(venue, PRUNE_CHANGES, {"keep_days": 7})
    execution = run_schedule(schedule.pk)
    assert not AccessChange.objects.exists()
    execution.refresh_from_db()
    assert execution.status == "OK" and "older than 7 days deleted" in execution.summary
