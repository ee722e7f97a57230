"""Hypothesis drives random interleavings of sales, cancels, reprints, door controls, wallet
transfers and runs of the five TIXnGO functions against the sandbox (real HTTP). Once every
function has caught up, TIXnGO's state and passgate's view of it are the same: every ticket in the
wallet has, in passgate, its status, owner and holder; every live ticket is in the wallet with its
current barcode; every cancelled one is deleted there.

The oracle is the sandbox's own state (/_sandbox/state), not passgate's code."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, PointOfSale, SalesChannel
from passgate.connectors.tixngo.models import WalletTicket
from passgate.jobs import services
from passgate.jobs.runner import run_schedule
from passgate.orgs.services import Actor, create_organisation
from passgate.sales import services as sales
from passgate.sales.models import Ticket, TicketStatus
from tests.access.conftest import Venue, do_scan

from .conftest import INTERFACE_PARAMS, TIX_KEY, Tix

FUNCTIONS = ("TIXNGO_TICKET_INJECTION", "TIXNGO_PUSH_CANCELLED", "TIXNGO_PUSH_CONTROLLED", "TIXNGO_FEEDBACK",
             "TIXNGO_PRIVILEGES")
_orgs = itertools.count()


class WalletMachine(RuleBasedStateMachine):
    Catalogue: type = object  # the shared fixture's Catalogue class, set by the test
    tix = None  # the sandbox, reset for each example

    def __init__(self):
        super().__init__()
        self.tix.reset()
        self.tix.seed(api_key=TIX_KEY, deletion_delay_s=0, tx_confirm_s=0)
        n = next(_orgs)
        org = create_organisation(f"tixhyp{n}", f"TIXnGO hypothesis {n}", "Europe/Paris", "EUR")
        self.actor = Actor.system(org, "hypothesis")
        self.venue = Venue(self.Catalogue(self.actor))
        channel = catalog.create(self.actor, SalesChannel, code="WALLET", name="Wallet",
                                 type=ChannelType.EXTERNAL_PRINTING)
        catalog.create(self.actor, PointOfSale, channel=channel, code="WALLETPOS", name="Wallet printing")
        interface = services.create_interface(self.actor, type="TIXNGO", name="TIXnGO", secret=TIX_KEY,
                                              url=self.tix.url + "/organizer/tickets",
                                              parameters_text=INTERFACE_PARAMS)
        self.schedules = {f: services.create_schedule(self.actor, interface=interface, function=f,
                                                      batch_size=3 if f != "TIXNGO_PUSH_CANCELLED" else None)
                          for f in FUNCTIONS}
        self.buyer = sales.create_contact(self.actor, first_name="Ada", last_name="Lovelace",
                                          email="ada@example.org")

    def tickets(self, *statuses):
        return list(Ticket.objects.filter(organisation=self.actor.organisation, status__in=statuses).order_by("pk"))

    @rule(quantity=st.integers(1, 2), anonymous=st.booleans())
    def sell(self, quantity, anonymous):
        self.venue.sell_tonight(quantity, buyer=None if anonymous else self.buyer)

    @rule(pick=st.integers(0, 20))
    def cancel(self, pick):
        live = self.tickets(TicketStatus.NOT_PRINTED, TicketStatus.PRINTED)
        if live:
            sales.cancel_ticket(self.actor, live[pick % len(live)])

    @rule(pick=st.integers(0, 20))
    def reprint(self, pick):
        printed = self.tickets(TicketStatus.PRINTED)
        if printed:
            sales.reprint_ticket(self.actor, printed[pick % len(printed)])

    @rule(pick=st.integers(0, 20))
    def control(self, pick):
        printed = self.tickets(TicketStatus.PRINTED)
        if printed:
            do_scan(self.venue.device, printed[pick % len(printed)].barcode)

    @rule(pick=st.integers(0, 20))
    def transfer(self, pick):
        """A fan passes a wallet ticket to a friend (refused by the wallet when not transferable now)."""
        in_wallet = list(WalletTicket.objects.filter(organisation=self.actor.organisation).order_by("ticket_id"))
        if in_wallet:
            w = in_wallet[pick % len(in_wallet)]
            self.tix.control.post(f"/tickets/{w.ticket_id}/transfer", json={
                "toOwner": f"W-friend{pick}", "holder": {"firstName": "Friend", "lastName": f"No{pick}",
                                                         "email": f"friend{pick}@example.org"}})

    @rule(function=st.sampled_from(FUNCTIONS))
    def run(self, function):
        execution = run_schedule(self.schedules[function].pk)
        assert execution.status in ("OK", "WARNING"), (function, execution.error, execution.error_cause)

    def catch_up(self):
        for _ in range(4):  # a reprint takes: delete → feedback DELETED → inject again → feedback
            for function in ("TIXNGO_TICKET_INJECTION", "TIXNGO_PUSH_CANCELLED", "TIXNGO_PUSH_CONTROLLED"):
                while run_schedule(self.schedules[function].pk).selected:
                    pass
            while run_schedule(self.schedules["TIXNGO_FEEDBACK"].pk).selected:
                pass

    def teardown(self):
        self.catch_up()
        partner = self.tix.data()["tickets"]
        mine = {str(w.ticket_id): w for w in WalletTicket.objects.filter(organisation=self.actor.organisation)}
        assert set(partner) == set(mine)
        for tid, theirs in partner.items():
            w = mine[tid]
            holder = theirs["holder"] or {}
            assert (w.wallet_status, w.owner_email) == (theirs["status"], theirs["ownerId"] or ""), tid
            assert (w.holder_first_name, w.holder_last_name) == (holder.get("firstName") or "",
                                                                 holder.get("lastName") or ""), tid
        for t in self.tickets(TicketStatus.NOT_PRINTED, TicketStatus.PRINTED):
            assert str(t.pk) in partner and partner[str(t.pk)]["barcode"] == t.barcode, t.pk
            assert partner[str(t.pk)]["status"] not in ("DELETION_PENDING", "DELETED"), t.pk
            assert t.status == TicketStatus.PRINTED
        for t in self.tickets(TicketStatus.CANCELLED, TicketStatus.INVALIDATED):
            assert str(t.pk) not in partner or partner[str(t.pk)]["status"] == "DELETED", t.pk


@pytest.mark.slow
def test_wallet_and_passgate_agree_after_any_interleaving(db, sandbox, catalogue, _fast_jobs):
    WalletMachine.Catalogue = type(catalogue)
    WalletMachine.tix = Tix(sandbox("tixngo"))
    run_state_machine_as_test(WalletMachine, settings=settings(
        max_examples=5, stateful_step_count=8, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
