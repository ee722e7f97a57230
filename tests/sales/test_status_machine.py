"""The ticket status machine, driven by random sequences of operations:
never an illegal state, never a barcode reused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.errors import Conflict
from passgate.sales import services as sales
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

# The expected machine, written out from DESIGN.md §4 and never imported from the
# code under test (an oracle copied from sales.TRANSITIONS would agree with any bug):
#   NOT_PRINTED → PRINTED        printed at a point of sale (or injected into a wallet);
#   NOT_PRINTED/PRINTED → CANCELLED     its order (file) cancelled, or the ticket alone;
#   NOT_PRINTED/PRINTED → INVALIDATED   invalidated by hand;
#   a reprint replaces the barcode: the old barcode is invalid for ever (retired) and
#   the ticket, printed again, carries a new one. Only a printed ticket can be reprinted.
#   CANCELLED and INVALIDATED are final: nothing leads out of them.
# operation → {status it may start from: status it ends in}; a status not listed is refused.
EXPECTED: dict[str, dict[str, str]] = {
    "print": {"NOT_PRINTED": "PRINTED"},
    "reprint": {"PRINTED": "PRINTED"},
    "cancel": {"NOT_PRINTED": "CANCELLED", "PRINTED": "CANCELLED"},
    "invalidate": {"NOT_PRINTED": "INVALIDATED", "PRINTED": "INVALIDATED"},
}
LIVE = frozenset({"NOT_PRINTED", "PRINTED"})
STATUSES = ["NOT_PRINTED", "PRINTED", "CANCELLED", "INVALIDATED"]
OPERATIONS = [*EXPECTED, "cancel_order"]
TICKET_OPERATIONS = {"print": sales.print_ticket, "reprint": sales.reprint_ticket, "cancel": sales.cancel_ticket,
                     "invalidate": sales.invalidate_ticket}


def ticket_in(catalogue, status: str) -> Ticket:
    """A fresh ticket brought to `status` through the services."""
    ticket = catalogue.sell_concert(2).tickets.order_by("id").first()  # a sibling keeps the file open
    if status == "PRINTED":
        ticket = sales.print_ticket(catalogue.actor, ticket)
    elif status == "CANCELLED":
        ticket = sales.cancel_ticket(catalogue.actor, ticket)
    elif status == "INVALIDATED":
        ticket = sales.invalidate_ticket(catalogue.actor, ticket)
    assert ticket.status == status
    return ticket


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("operation", list(EXPECTED))
def test_every_operation_from_every_status(catalogue, operation, start):
    ticket = ticket_in(catalogue, start)
    barcode = ticket.barcode
    if start in EXPECTED[operation]:
        result = TICKET_OPERATIONS[operation](catalogue.actor, ticket)
        result.refresh_from_db()
        assert result.status == EXPECTED[operation][start]
        if operation == "reprint":
            assert result.barcode != barcode
            assert RetiredBarcode.objects.filter(ticket=result, barcode=barcode).count() == 1
        else:
            assert result.barcode == barcode
    else:
        with pytest.raises(Conflict) as refused:
            TICKET_OPERATIONS[operation](catalogue.actor, ticket)
        assert (refused.value.code, refused.value.field, refused.value.found) == (
            "illegal_transition", "status", start)
        ticket.refresh_from_db()
        assert (ticket.status, ticket.barcode) == (start, barcode)


@pytest.mark.parametrize("start", STATUSES)
def test_cancelling_the_order_cancels_live_tickets_only(catalogue, start):
    ticket = ticket_in(catalogue, start)
    sales.cancel_order(catalogue.actor, ticket.order)
    ticket.refresh_from_db()
    assert ticket.status == ("CANCELLED" if start in LIVE else start)


def test_cancelled_ticket_cannot_be_printed(catalogue):
    ticket = catalogue.sell_concert().tickets.get()
    sales.cancel_ticket(catalogue.actor, ticket)
    with pytest.raises(Conflict) as refused:
        sales.print_ticket(catalogue.actor, ticket)
    assert refused.value.code == "illegal_transition"
    assert refused.value.field == "status"
    assert refused.value.found == TicketStatus.CANCELLED
    assert "cannot be printed" in refused.value.message
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CANCELLED and ticket.printed_at is None


def test_reprint_retires_the_old_barcode_for_ever(catalogue):
    ticket = catalogue.sell_concert().tickets.get()
    sales.print_ticket(catalogue.actor, ticket, catalogue.desk)
    old = ticket.barcode
    ticket = sales.reprint_ticket(catalogue.actor, ticket, catalogue.desk)
    assert ticket.barcode != old
    assert ticket.reprint_count == 1
    assert list(ticket.retired_barcodes.values_list("barcode", flat=True)) == [old]
    assert not Ticket.objects.filter(barcode=old).exists()


def test_cancel_order_cancels_live_tickets_and_keeps_invalidated(catalogue):
    order = catalogue.sell_concert(3)
    t1, t2, t3 = order.tickets.order_by("id")
    sales.print_ticket(catalogue.actor, t1)
    sales.invalidate_ticket(catalogue.actor, t2)
    sales.cancel_order(catalogue.actor, order)
    statuses = dict(order.tickets.values_list("id", "status"))
    assert statuses == {t1.id: "CANCELLED", t2.id: "INVALIDATED", t3.id: "CANCELLED"}
    order.refresh_from_db()
    assert order.status == "CANCELLED" and order.cancelled_at is not None
    with pytest.raises(Conflict):
        sales.cancel_order(catalogue.actor, order)


def test_cancelling_the_last_live_ticket_cancels_the_file(catalogue):
    order = catalogue.sell_concert(3)
    first, second, third = order.tickets.order_by("id")
    sales.invalidate_ticket(catalogue.actor, first)
    sales.cancel_ticket(catalogue.actor, second)
    order.refresh_from_db()
    assert order.status == "CONFIRMED"  # the third ticket is still live
    sales.cancel_ticket(catalogue.actor, third)
    order.refresh_from_db()
    assert order.status == "CANCELLED" and order.cancelled_at is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 2)), min_size=1, max_size=25))
def test_random_operations_never_reach_an_illegal_state(catalogue, steps):
    order = catalogue.sell_concert(3)
    tickets = list(order.tickets.order_by("id"))
    model = {t.pk: t.status for t in tickets}
    barcodes = {t.pk: t.barcode for t in tickets}
    seen_barcodes = set(barcodes.values())
    retired: set[str] = set()
    file_open = True
    for op, index in steps:
        ticket = Ticket.objects.get(pk=tickets[index].pk)
        if op == "cancel_order":
            if file_open:
                sales.cancel_order(catalogue.actor, order)
                model = {pk: "CANCELLED" if status in LIVE else status for pk, status in model.items()}
                file_open = False
            else:
                with pytest.raises(Conflict):
                    sales.cancel_order(catalogue.actor, order)
        elif model[ticket.pk] in EXPECTED[op]:
            result = TICKET_OPERATIONS[op](catalogue.actor, ticket)
            model[ticket.pk] = EXPECTED[op][model[ticket.pk]]
            if op == "reprint":
                assert result.barcode not in seen_barcodes, "a reprint reused a barcode"
                retired.add(barcodes[ticket.pk])
                barcodes[ticket.pk] = result.barcode
                seen_barcodes.add(result.barcode)
            if op == "cancel" and not any(model[t.pk] in LIVE for t in tickets):
                file_open = False  # cancelling the last live ticket cancels the file
        else:
            before = (ticket.status, ticket.barcode, ticket.status_changed_at)
            with pytest.raises(Conflict):
                TICKET_OPERATIONS[op](catalogue.actor, ticket)
            ticket.refresh_from_db()
            assert (ticket.status, ticket.barcode, ticket.status_changed_at) == before
        order.refresh_from_db()
        assert {t.pk: (t.status, t.barcode) for t in order.tickets.all()} == {
            pk: (model[pk], barcodes[pk]) for pk in model}
        assert order.status == ("CONFIRMED" if file_open else "CANCELLED")
    assert set(RetiredBarcode.objects.filter(ticket__order=order).values_list("barcode", flat=True)) == retired
    assert not Ticket.objects.filter(barcode__in=retired).exists(), "a retired barcode is live again"
    for ticket in order.tickets.all():
        assert ticket.status != "PRINTED" or ticket.printed_at is not None
        assert ticket.status != "CANCELLED" or ticket.cancelled_at is not None
        assert ticket.status != "INVALIDATED" or ticket.invalidated_at is not None
