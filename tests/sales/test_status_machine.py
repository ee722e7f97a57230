"""The ticket status machine, driven by random sequences of operations:
never an illegal state, never a barcode reused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.errors import Conflict
from passgate.sales import services as sales
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

OPERATIONS = ["print", "reprint", "cancel", "invalidate", "cancel_order"]
ALLOWED = {op: allowed for op, (allowed, _) in sales.TRANSITIONS.items()}
TARGET = {op: target for op, (_, target) in sales.TRANSITIONS.items()}


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 2)), min_size=1, max_size=25))
def test_random_operations_never_reach_an_illegal_state(catalogue, steps):
    order = catalogue.sell_concert(3)
    tickets = list(order.tickets.order_by("id"))
    model = {t.pk: t.status for t in tickets}
    seen_barcodes = {t.barcode for t in tickets}
    for op, index in steps:
        ticket = Ticket.objects.get(pk=tickets[index].pk)
        if op == "cancel_order":
            if order.status == "CANCELLED":
                with pytest.raises(Conflict):
                    sales.cancel_order(catalogue.actor, order)
            else:
                sales.cancel_order(catalogue.actor, order)
                for pk, status in model.items():
                    if status in ALLOWED["cancel"]:
                        model[pk] = TicketStatus.CANCELLED
            order.refresh_from_db()
        else:
            func = {"print": sales.print_ticket, "reprint": sales.reprint_ticket, "cancel": sales.cancel_ticket,
                    "invalidate": sales.invalidate_ticket}[op]
            if model[ticket.pk] in ALLOWED[op]:
                result = func(catalogue.actor, ticket)
                model[ticket.pk] = TARGET[op]
                assert result.barcode not in seen_barcodes or op != "reprint"
                seen_barcodes.add(result.barcode)
            else:
                before = (ticket.status, ticket.barcode, ticket.status_changed_at)
                with pytest.raises(Conflict):
                    func(catalogue.actor, ticket)
                ticket.refresh_from_db()
                assert (ticket.status, ticket.barcode, ticket.status_changed_at) == before
        order.refresh_from_db()
        current = {t.pk: t.status for t in order.tickets.all()}
        assert current == model
        # A file whose tickets are all dead is cancelled; a cancelled file has no live ticket.
        if order.status == "CANCELLED":
            assert not any(s in (TicketStatus.NOT_PRINTED, TicketStatus.PRINTED) for s in current.values())
    live = list(Ticket.objects.values_list("barcode", flat=True))
    retired = list(RetiredBarcode.objects.values_list("barcode", flat=True))
    assert len(set(live) | set(retired)) == len(live) + len(retired), "a barcode was reused"
    for ticket in order.tickets.all():
        assert ticket.status != TicketStatus.PRINTED or ticket.printed_at is not None
        assert ticket.status != TicketStatus.CANCELLED or ticket.cancelled_at is not None
        assert ticket.status != TicketStatus.INVALIDATED or ticket.invalidated_at is not None
