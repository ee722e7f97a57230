"""Push cancelled, push controlled, feedback and privileges against the TIXnGO sandbox (real HTTP)."""

from __future__ import annotations

import pytest

from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Product, Tariff
from passgate.connectors.tixngo.functions import PAGINATION_KEY
from passgate.connectors.tixngo.models import PrivilegeDefinition, WalletLogEntry, WalletTicket
from passgate.jobs import services
from passgate.jobs.models import ScheduleState
from passgate.sales import services as sales
from tests.access.conftest import Venue, do_scan

from .conftest import run, wallet_status
from .test_injection import sell


@pytest.fixture
def injected(tix, schedule, catalogue, buyer):
    tickets = sell(catalogue, 2, buyer)
    assert run(schedule("TIXNGO_TICKET_INJECTION", suffix="setup")).done == 2
    for t in tickets:
        t.refresh_from_db()
    return tickets


def test_a_cancel_after_injection_is_pushed_and_reaches_deleted_through_feedback(tix, schedule, catalogue,
                                                                                  injected):
    cancelled, kept = injected
    sales.cancel_ticket(catalogue.actor, cancelled)
    push = schedule("TIXNGO_PUSH_CANCELLED")
    execution = run(push)
    assert execution.status == "OK" and execution.done == 1
    assert wallet_status(cancelled) == "DELETION_PENDING"
    assert tix.wallet(cancelled)["status"] in ("DELETION_PENDING", "DELETED")
    assert run(push).selected == 0  # pushed once
    feedback = run(schedule("TIXNGO_FEEDBACK"))
    assert feedback.status == "OK"
    assert wallet_status(cancelled) == "DELETED" and wallet_status(kept) == "INJECTED"
    cancelled.refresh_from_db()
    assert cancelled.status == "CANCELLED"  # feedback never changes a ticket's status
    actions = list(WalletLogEntry.objects.filter(ticket=cancelled).values_list("action", "to_status", "tx_state"))
    assert ("DELETE", "DELETED", "CONFIRMED") in actions and ("INJECT", "INJECTED", "PENDING") in actions
    assert all(len(h) == 66 for h in WalletLogEntry.objects.values_list("tx_hash", flat=True))


def test_a_reprint_is_reinjected_to_the_holder_feedback_reported_after_a_transfer(tix, schedule, catalogue,
                                                                                   injected):
    ticket = injected[0]
    friend = {"firstName": "Charles", "lastName": "Babbage", "email": "charles@example.org"}
    assert tix.control.post(f"/tickets/{ticket.pk}/transfer", json={"toOwner": "W-charles", "holder": friend}
                            ).status_code == 200
    feedback = schedule("TIXNGO_FEEDBACK")
    run(feedback)
    wallet = WalletTicket.objects.get(ticket=ticket)
    assert wallet.wallet_status == "TRANSFERRED" and wallet.owner_email == "W-charles"
    assert (wallet.holder_first_name, wallet.holder_last_name) == ("Charles", "Babbage")
    assert wallet.holder_fields["email"] == "charles@example.org"

    ticket = sales.reprint_ticket(catalogue.actor, ticket)
    injection = schedule("TIXNGO_TICKET_INJECTION")
    run(injection)  # the old barcode leaves the wallet first
    assert wallet_status(ticket) in ("DELETION_PENDING", "DELETED")
    run(feedback)
    assert wallet_status(ticket) == "DELETED"
    execution = run(injection)
    assert execution.done == 1
    sent = tix.wallet(ticket)["sent"]
    assert sent["barcode"] == ticket.barcode
    assert sent["spectatorDetails"]["email"] == "charles@example.org"
    assert sent["mainApplicant"] is False  # the beneficiary is no longer the buyer
    assert tix.wallet(ticket)["status"] == "INJECTED" and wallet_status(ticket) == "INJECTED"
    assert run(injection).selected == 0


def test_a_controlled_ticket_is_pushed_once_with_its_control_time(tix, schedule, catalogue, buyer, admin_actor):
    venue = Venue(catalogue)
    tonight = venue.sell_tonight(2, buyer=buyer)
    run(schedule("TIXNGO_TICKET_INJECTION"))
    assert do_scan(venue.device, tonight[0].barcode)["decision"] == "GRANTED"
    tonight[0].refresh_from_db()
    push = schedule("TIXNGO_PUSH_CONTROLLED")
    execution = run(push)
    assert execution.status == "OK" and execution.done == 1
    assert tix.wallet(tonight[0])["status"] == "CONTROLLED"
    assert tix.wallet(tonight[1])["status"] == "INJECTED"
    assert wallet_status(tonight[0]) == "CONTROLLED"
    assert ScheduleState.objects.get(schedule=push, key="control_position").value["ticket_id"] == tonight[0].pk
    # a second entry (exit and back) does not push it again
    do_scan(venue.device, tonight[0].barcode, direction="EXIT")
    do_scan(venue.device, tonight[0].barcode)
    assert run(push).selected == 0
    assert len(tix.calls("/organizer/tickets/control")) == 1


def test_feedback_reads_batch_size_entries_from_its_pagination_key(tix, schedule, catalogue, injected, admin_actor):
    feedback = schedule("TIXNGO_FEEDBACK", batch_size=3)
    total = len(tix.log())
    first = run(feedback)
    assert first.selected == 3
    key = ScheduleState.objects.get(schedule=feedback, key=PAGINATION_KEY).value
    tix.faults(down=True, retry_after=0)
    assert run(feedback).status == "ERROR"
    assert ScheduleState.objects.get(schedule=feedback, key=PAGINATION_KEY).value == key  # unchanged
    tix.clear_faults()
    while WalletLogEntry.objects.count() < total:
        assert run(feedback).status == "OK"
    hashes = [(e["txHash"], e["txState"]) for e in tix.log()]
    stored = list(WalletLogEntry.objects.order_by("id").values_list("tx_hash", "tx_state"))
    assert stored == hashes[:len(stored)]  # exactly the log, in order, nothing twice
    # the key is visible and editable (the seed's "do not touch"): set back to the start, re-read
    services.set_schedule_state(admin_actor, feedback, PAGINATION_KEY, '""')
    run(feedback)
    assert WalletLogEntry.objects.count() == len(stored) + 3


def test_privileges_create_their_definition_once_and_cards_are_not_transferable(tix, schedule, catalogue, buyer,
                                                                              injected):
    member = catalog.create(catalogue.actor, Product, season=catalogue.season, code="MEMBER", name="Friends",
                            family=Family.MEMBERSHIP)
    tariff = catalog.create(catalogue.actor, Tariff, product=member, code="STD", name="Standard", price=50)
    order = injected[0].order
    card_order = sales.sell(catalogue.actor, sales.SaleRequest(channel=catalogue.box_office, buyer=buyer, lines=[
        sales.SaleLine(product=member, tariff=tariff, quantity=3)]))
    privileges = schedule("TIXNGO_PRIVILEGES", batch_size=2)
    assert run(privileges).done == 2
    assert run(privileges).done == 1
    assert len(tix.calls(f"/organizer/privileges/PRIV-{member.pk}")) == 1
    assert PrivilegeDefinition.objects.get(product=member).partner_id == f"PRIV-{member.pk}"
    cards = tix.data()["privileges"][f"PRIV-{member.pk}"]["cards"]
    assert sorted(cards) == sorted(str(t.pk) for t in card_order.tickets.all())
    assert all(c["transferable"] is False for c in cards.values())
    for t in card_order.tickets.all():
        assert t.status == "PRINTED" and wallet_status(t) == "INJECTED"
    # the concert tickets are in another order: a card links the wallet tickets of its own order
    assert all(c["ticketIds"] == [] for c in cards.values()) and order != card_order


def test_the_timeline_tells_the_wallet_log_of_a_ticket_and_only_its_organisation_sees_it(
        tix, schedule, catalogue, injected, other_org):
    from passgate.connectors.tixngo.timeline import timeline_events
    from passgate.sales.timeline import ticket_timeline

    run(schedule("TIXNGO_FEEDBACK"))
    events = timeline_events(catalogue.actor.organisation, [injected[0].pk])
    assert events and all(e["ticket_id"] == injected[0].pk and e["kind"] == "wallet" for e in events)
    assert events[0]["title"] == "Injected into the TIXnGO wallet" and events[0]["detail"]["tx_hash"].startswith("0x")
    assert timeline_events(other_org, [injected[0].pk]) == []
    # and the ticket's own trail (page and API) tells it, after its sale
    trail = ticket_timeline(catalogue.actor.organisation, injected[0])
    kinds = [e["kind"] if isinstance(e, dict) else e.kind for e in trail]
    assert kinds[0] == "sale" and "wallet" in kinds


def test_feedback_never_touches_a_ticket_of_another_organisation(tix, schedule, catalogue, buyer, other_org,
                                                                other_catalogue):
    theirs = other_catalogue.sell_concert(1).tickets.get()
    mine = sell(catalogue, 1, buyer)[0]
    run(schedule("TIXNGO_TICKET_INJECTION"))
    # the partner's log names the other organisation's ticket id (a shared account, a typo…)
    tix.api.put("/events/X", json={"name": "X", "startTime": "2027-01-01T20:00:00+00:00",
                                   "expirationDate": "2027-01-01T23:00:00+00:00"})
    tix.api.post("/tickets", json={"tickets": [{"ticketId": str(theirs.pk), "eventId": "X", "barcode": "B"}]})
    execution = run(schedule("TIXNGO_FEEDBACK"))
    assert execution.status == "OK"
    assert not WalletTicket.objects.filter(ticket=theirs).exists()
    assert not WalletLogEntry.objects.filter(ticket=theirs).exists()
    assert WalletTicket.objects.get(ticket=mine).organisation == catalogue.actor.organisation
