"""Hypothesis drives interleavings of ticket changes, page reads and writer
transactions still in flight on other connections (committing while the
device pages). After draining, the device must hold exactly the truth: no
change missed, removals included."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from passgate.access import services as access
from passgate.access.offline import OfflineDevice
from passgate.access.package import build_package
from passgate.orgs.services import Actor, create_organisation
from passgate.sales import services as sales
from passgate.sales.models import Ticket, TicketStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LIVE = (TicketStatus.NOT_PRINTED, TicketStatus.PRINTED)
_orgs = itertools.count()


class Writer:
    """A change made in another thread on its own connection, held open until released."""

    def __init__(self, change):
        self.started = threading.Event()
        self.release = threading.Event()
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self.run, args=(change,), daemon=True)
        self.thread.start()

    def run(self, change):
        try:
            with transaction.atomic():
                change()
                self.started.set()
                assert self.release.wait(30)
        except BaseException as exc:  # pragma: no cover - surfaced in commit()
            self.error.append(exc)
            self.started.set()
        finally:
            connections.close_all()

    def commit(self):
        self.release.set()
        self.thread.join(30)
        assert not self.thread.is_alive() and not self.error, self.error


class PackageMachine(RuleBasedStateMachine):
    """Rules draw plain integers (never from lists whose length depends on thread
    timing) and preconditions count writers at points that do not depend on
    timing, so hypothesis sees the same shape of data on every replay."""

    Catalogue: type = object  # the shared fixture's Catalogue class, set by the test

    def __init__(self):
        super().__init__()
        n = next(_orgs)
        org = create_organisation(f"hyp{n}", f"Hypothesis {n}")
        self.actor = Actor.system(org, "hypothesis")
        self.cat = self.Catalogue(self.actor)
        self.sector = access.create_sector(self.actor, "MAIN", "Main")
        access.add_rule(self.actor, self.sector, self.cat.concert)
        self.pass_rule = None
        self.device = OfflineDevice()
        self.open_writers: list[Writer] = []  # inside their transaction, not yet released
        self.released: list[Writer] = []  # released; may still wait behind an open writer's lock

    # ---------------------------------------------------------- helpers

    def live(self):
        return list(Ticket.objects.filter(organisation=self.actor.organisation, status__in=LIVE).order_by("id"))

    def fetch(self, cursor, limit):
        return build_package(self.sector, cursor, limit)

    def _join_released(self):
        """With no writer left open, every released writer can finish."""
        assert not self.open_writers
        for writer in self.released:
            writer.commit()
        self.released = []

    def _busy_tickets(self):
        return {w.ticket_id for w in self.open_writers + self.released}

    # ---------------------------------------------------------- changes on the main connection

    @precondition(lambda self: not self.open_writers)
    @rule(quantity=st.integers(1, 3), kind=st.sampled_from(["concert", "pass"]))
    def sell(self, quantity, kind):
        self._join_released()
        (self.cat.sell_concert if kind == "concert" else self.cat.sell_pass)(quantity)

    @precondition(lambda self: not self.open_writers)
    @rule(pick=st.integers(0, 10**6), op=st.sampled_from(["cancel", "invalidate", "print", "reprint"]))
    def change(self, pick, op):
        self._join_released()
        live = self.live()
        if not live:
            return
        ticket = live[pick % len(live)]
        if op == "cancel":
            sales.cancel_ticket(self.actor, ticket)
        elif op == "invalidate":
            sales.invalidate_ticket(self.actor, ticket)
        elif ticket.status == TicketStatus.NOT_PRINTED:
            sales.print_ticket(self.actor, ticket)
        elif op == "reprint":
            sales.reprint_ticket(self.actor, ticket)

    @precondition(lambda self: not self.open_writers)
    @rule()
    def toggle_pass_rule(self):
        self._join_released()
        if self.pass_rule is None:
            self.pass_rule = access.add_rule(self.actor, self.sector, self.cat.pass_product)
        else:
            access.delete_rule(self.actor, self.pass_rule)
            self.pass_rule = None

    # ---------------------------------------------------------- writers in flight on other connections

    @precondition(lambda self: len(self.open_writers) + len(self.released) < 2)
    @rule(pick=st.integers(0, 10**6), op=st.sampled_from(["sell", "cancel", "reprint"]))
    def begin_writer(self, pick, op):
        ticket = None
        if op != "sell":
            live = [t for t in self.live() if op != "reprint" or t.status == TicketStatus.PRINTED]
            live = [t for t in live if t.pk not in self._busy_tickets()]
            if not live:
                return
            ticket = live[pick % len(live)]
        actor, cat = self.actor, self.cat
        change = {
            "sell": lambda: cat.sell_pass(2),
            "cancel": lambda: sales.cancel_ticket(actor, ticket),
            "reprint": lambda: sales.reprint_ticket(actor, ticket),
        }[op]
        busy = bool(self.open_writers or self.released)
        writer = Writer(change)
        writer.ticket_id = ticket.pk if ticket else None
        # The first writer is inside its transaction; a second one may be queued behind the lock.
        writer.started.wait(0.5 if busy else 10)
        self.open_writers.append(writer)

    @precondition(lambda self: bool(self.open_writers))
    @rule(pick=st.integers(0, 10**6))
    def commit_writer(self, pick):
        """Release any writer, not only the oldest: a later writer may try to commit first
        (it then waits behind the earlier one's lock until that one commits)."""
        writer = self.open_writers.pop(pick % len(self.open_writers))
        writer.release.set()
        self.released.append(writer)
        if not self.open_writers:
            self._join_released()

    # ---------------------------------------------------------- the device

    @rule(limit=st.integers(1, 4))
    def read_page(self, limit):
        self.device.apply(self.fetch(self.device.cursor, limit))

    def teardown(self):
        for writer in self.open_writers:
            writer.release.set()
        self.released.extend(self.open_writers)
        self.open_writers = []
        self._join_released()
        self.device.sync(self.fetch, limit=3)
        rules = access.sector_rules(self.sector.pk)
        tickets = Ticket.objects.filter(organisation=self.actor.organisation)
        truth = {t.barcode for t in tickets if t.status in LIVE
                 and access.rules_match(rules, t.product_id, t.performance_id, t.tariff_id, t.category_id)}
        assert set(self.device.valid) == truth
        dead = {t.barcode for t in tickets if t.status not in LIVE
                and access.rules_match(rules, t.product_id, t.performance_id, t.tariff_id, t.category_id)}
        assert dead <= set(self.device.blocked)


def test_incremental_package_never_misses_a_change(transactional_db, catalogue):
    PackageMachine.Catalogue = type(catalogue)
    run_state_machine_as_test(PackageMachine, settings=settings(
        max_examples=40, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))



def test_writer_committing_after_a_later_one_is_not_skipped(transactional_db, catalogue):
    """The scenario a naive cursor (id or timestamp) gets wrong: A takes its change number,
    B (later) commits first, the device reads past B, then A commits."""
    actor = catalogue.actor
    sector = access.create_sector(actor, "MAIN", "Main")
    access.add_rule(actor, sector, catalogue.concert)
    victim = catalogue.sell_concert(1).tickets.get()
    device = OfflineDevice()
    device.sync(lambda c, n: build_package(sector, c, n))
    assert victim.barcode in device.valid
    a = Writer(lambda: sales.cancel_ticket(actor, victim))
    assert a.started.wait(10)
    b = Writer(lambda: catalogue.sell_pass(1))  # shares no row with A but the change counter
    b.release.set()  # B may commit as soon as it can: it must wait for A (the counter's row lock)
    b.thread.join(1.0)
    device.apply(build_package(sector, device.cursor, 1000))  # reads while A is in flight
    a.commit()
    b.commit()
    device.sync(lambda c, n: build_package(sector, c, n))
    assert victim.barcode not in device.valid
    assert device.blocked[victim.barcode] == "CANCELLED"
