"""Ticket injection against the TIXnGO sandbox over real HTTP (seed 002 "Ticket injection")."""

from __future__ import annotations

import pytest

from passgate.catalog import services as catalog
from passgate.catalog.models import Performance, Tariff
from passgate.connectors.tixngo.models import WalletTicket
from passgate.errors import InvalidInput
from passgate.jobs import services
from passgate.jobs.models import ExecutionItem, PartnerCall
from passgate.sales import services as sales

from .conftest import run, wallet_status


def sell(catalogue, quantity=1, buyer=None, cultural_contact=None, performance=None, tariff=None):
    line = sales.SaleLine(product=catalogue.concert, tariff=tariff or catalogue.full_price,
                          performance=performance or catalogue.performance, category=catalogue.category,
                          quantity=quantity, cultural_contact=cultural_contact)
    order = sales.sell(catalogue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line], buyer=buyer,
                                                          point_of_sale=catalogue.desk))
    return list(order.tickets.order_by("id"))


def test_tickets_go_in_id_order_in_calls_of_the_iteration_size_and_become_printed_by_the_wallet_pos(
        tix, schedule, catalogue, buyer, printing):
    tickets = sell(catalogue, 3, buyer) + sell(catalogue, 2, buyer)
    execution = run(schedule("TIXNGO_TICKET_INJECTION"))
    assert execution.status == "OK", execution.error
    assert execution.done == 5
    # ticketIterationSize 2 → three calls; the partner logged them in ticket-id order
    assert len(tix.calls("/organizer/tickets")) == 3
    assert tix.injected_ids() == [str(t.pk) for t in tickets]
    assert len(tix.calls(f"/organizer/events/PERF-{catalogue.performance.pk}")) == 1  # the event first
    assert tix.data()["counts"]["INJECTED"] == 5
    for t in tickets:
        t.refresh_from_db()
        assert t.status == "PRINTED" and t.printed_by == printing
        assert wallet_status(t) == "INJECTED"
    # nothing left: a second run sends nothing
    again = run(schedule("TIXNGO_TICKET_INJECTION", suffix="2"))
    assert again.status == "OK" and again.selected == 0
    assert len(tix.calls("/organizer/tickets")) == 3


def test_filters_combine_as_and(tix, schedule, catalogue, buyer, admin_actor):
    other_perf = catalog.create(admin_actor, Performance, product=catalogue.concert, code="P2", name="Second",
                                starts_at=catalogue.performance.starts_at, ends_at=catalogue.performance.ends_at)
    reduced = catalog.create(admin_actor, Tariff, product=catalogue.concert, code="RED", name="Reduced", price=10)
    wanted = sell(catalogue, 1, buyer, performance=other_perf, tariff=reduced)
    wrong_tariff = sell(catalogue, 1, buyer, performance=other_perf)
    wrong_perf = sell(catalogue, 1, buyer, tariff=reduced)
    passes = list(catalogue.sell_pass(1, buyer=buyer).tickets.all())
    execution = run(schedule("TIXNGO_TICKET_INJECTION", '{"performances": ["P2"], "tariffCodes": ["RED"], '
                                                        '"products": ["CONCERT"], "categoryCodes": ["CAT1"]}'))
    assert execution.status == "OK" and execution.done == 1
    assert tix.injected_ids() == [str(wanted[0].pk)]
    for t in wrong_tariff + wrong_perf + passes:
        t.refresh_from_db()
        assert t.status == "NOT_PRINTED"


def test_a_file_number_excludes_the_other_filters(tix, schedule, catalogue, buyer):
    with pytest.raises(InvalidInput) as caught:
        schedule("TIXNGO_TICKET_INJECTION", '{"fileNumber": "00000001", "products": ["CONCERT"]}')
    assert "fileNumber" in caught.value.message and "products" in caught.value.message
    first = sell(catalogue, 2, buyer)
    sell(catalogue, 1, buyer)
    file_number = first[0].order.file_number
    execution = run(schedule("TIXNGO_TICKET_INJECTION", f'{{"fileNumber": "{file_number}"}}'))
    assert execution.done == 2
    assert tix.injected_ids() == [str(t.pk) for t in first]


def test_a_ticket_missing_a_mandatory_holder_field_is_skipped_with_the_fields_it_misses(
        tix, schedule, catalogue, buyer, admin_actor):
    complete = sales.create_contact(admin_actor, first_name="Grace", last_name="Hopper", email="g@example.org",
                                    birth_place="New York", id_number="ID-1")
    ok = sell(catalogue, 1, buyer, cultural_contact=complete)
    lacking = sell(catalogue, 1, buyer)  # the buyer has no birth place nor id number
    execution = run(schedule("TIXNGO_TICKET_INJECTION", '{"mandatoryHolderFields": "FIRSTNAME,BIRTH_PLACE,ID_NUMBER"}'))
    assert execution.status == "OK" and execution.done == 1 and execution.skipped == 1
    assert tix.injected_ids() == [str(ok[0].pk)]
    item = ExecutionItem.objects.get(execution=execution, ticket=lacking[0])
    assert item.outcome == "SKIPPED" and item.message == "missing mandatory holder fields: BIRTH_PLACE, ID_NUMBER"
    lacking[0].refresh_from_db()
    assert lacking[0].status == "NOT_PRINTED"


def test_main_applicant_is_true_only_when_the_beneficiary_matches_the_buyer(tix, schedule, catalogue, buyer,
                                                                            admin_actor):
    twin = sales.create_contact(admin_actor, first_name="ADA", last_name="lovelace", email="Ada@Example.org")
    friend = sales.create_contact(admin_actor, first_name="Ada", last_name="Lovelace", email="friend@example.org")
    own = sell(catalogue, 1, buyer)[0]                                # no cultural contact: the buyer
    same_person = sell(catalogue, 1, buyer, cultural_contact=twin)[0]  # another record, same person
    other_email = sell(catalogue, 1, buyer, cultural_contact=friend)[0]
    anonymous = sell(catalogue, 1, None, cultural_contact=buyer)[0]    # no buyer to match
    assert run(schedule("TIXNGO_TICKET_INJECTION")).done == 4
    sent = {tid: t["sent"] for tid, t in tix.data()["tickets"].items()}
    assert sent[str(own.pk)]["mainApplicant"] is True
    assert sent[str(same_person.pk)]["mainApplicant"] is True
    assert sent[str(other_email.pk)]["mainApplicant"] is False
    assert sent[str(anonymous.pk)]["mainApplicant"] is False
    # assigned to the cultural contact, falling back to the buyer
    assert sent[str(other_email.pk)]["spectatorDetails"]["email"] == "friend@example.org"
    assert sent[str(own.pk)]["spectatorDetails"]["email"] == "ada@example.org"


def test_simulation_sends_nothing_and_shows_what_would_be_sent(tix, schedule, catalogue, buyer):
    tickets = sell(catalogue, 3, buyer)
    execution = run(schedule("TIXNGO_TICKET_INJECTION", simulation=True))
    assert execution.status == "OK" and execution.skipped == 3
    assert tix.handle.requests() == []
    item = ExecutionItem.objects.filter(execution=execution).first()
    assert item.partner_code == "SIMULATION" and f"'ticketId': '{tickets[0].pk}'" in item.message
    assert "2 calls" in execution.summary
    assert all(t.status == "NOT_PRINTED" for t in sales.Ticket.objects.all())
    assert not WalletTicket.objects.exists()


def test_a_partial_failure_ends_warning_and_only_the_failed_tickets_are_retried(tix, schedule, catalogue, buyer):
    t1, t2, t3 = sell(catalogue, 3, buyer)
    tix.faults(partial={"ids": [t2.pk]})
    injection = schedule("TIXNGO_TICKET_INJECTION")
    first = run(injection)
    assert first.status == "WARNING" and first.done == 2 and first.failed == 1
    item = ExecutionItem.objects.get(execution=first, ticket=t2)
    assert item.partner_code == "REJECTED" and "refused by the partner" in item.message
    t2.refresh_from_db()
    assert t2.status == "NOT_PRINTED" and wallet_status(t2) is None
    tix.clear_faults()
    second = run(injection)
    assert second.status == "OK" and second.done == 1 and second.selected == 1
    assert tix.injected_ids() == [str(t1.pk), str(t3.pk), str(t2.pk)]  # each once
    t2.refresh_from_db()
    assert t2.status == "PRINTED"


def test_a_429_with_retry_after_is_waited_out(tix, schedule, catalogue, buyer):
    sell(catalogue, 1, buyer)
    tix.faults(rate_limit={"count": 1, "retry_after": 1})
    execution = run(schedule("TIXNGO_TICKET_INJECTION"))
    assert execution.status == "OK" and execution.done == 1
    statuses = list(PartnerCall.objects.filter(execution=execution).order_by("id").values_list("status", flat=True))
    assert statuses[0] == 429 and statuses[1:] == [201, 200]  # the event, then the tickets


@pytest.mark.parametrize("function", ["TIXNGO_TICKET_INJECTION", "TIXNGO_PUSH_CANCELLED", "TIXNGO_PUSH_CONTROLLED",
                                      "TIXNGO_FEEDBACK", "TIXNGO_PRIVILEGES"])
def test_a_partner_5xx_ends_error_with_a_notice_email(smtp, tix, schedule, catalogue, buyer, function):
    sell(catalogue, 1, buyer)
    tix.faults(down=True, retry_after=0)
    if function in ("TIXNGO_PUSH_CANCELLED", "TIXNGO_PUSH_CONTROLLED", "TIXNGO_PRIVILEGES"):
        _give_it_work(tix, schedule, catalogue, buyer, function)
    execution = run(schedule(function, suffix="down"))
    assert execution.status == "ERROR", execution.summary
    assert "503" in execution.error
    smtp.wait_for(1)
    _, recipients, message = smtp.messages[0]
    assert recipients == ["ops@example.org"]
    assert "ERROR" in message["Subject"] and function in message["Subject"]
    assert all(t.status == "NOT_PRINTED" for t in sales.Ticket.objects.filter(wallet__isnull=True))


def _give_it_work(tix, schedule, catalogue, buyer, function):
    """A ticket in the wallet, then cancelled or controlled, or a card to inject."""
    from passgate.catalog.models import Family, Product

    tix.clear_faults()
    if function == "TIXNGO_PRIVILEGES":
        member = catalog.create(catalogue.actor, Product, season=catalogue.season, code="MEMBER", name="Friends",
                                family=Family.MEMBERSHIP)
        tariff = catalog.create(catalogue.actor, Tariff, product=member, code="STD", name="Standard", price=50)
        sales.sell(catalogue.actor, sales.SaleRequest(channel=catalogue.box_office, buyer=buyer, lines=[
            sales.SaleLine(product=member, tariff=tariff)]))
    else:
        assert run(schedule("TIXNGO_TICKET_INJECTION", suffix="setup")).status == "OK"
        ticket = sales.Ticket.objects.get()
        if function == "TIXNGO_PUSH_CANCELLED":
            sales.cancel_ticket(catalogue.actor, ticket)
        else:
            sales.Ticket.objects.filter(pk=ticket.pk).update(first_controlled_at=ticket.created_at,
                                                             last_controlled_at=ticket.created_at, control_count=1)
    tix.faults(down=True, retry_after=0)


def test_the_printing_point_of_sale_is_checked_when_the_interface_is_saved(admin_actor, tix, printing, catalogue):
    url = tix.url + "/organizer/tickets"
    with pytest.raises(InvalidInput) as caught:
        services.create_interface(admin_actor, type="TIXNGO", name="T", url=url,
                                  parameters_text='{"salesChannel": "WALLET", "pointOfSale": "DESK1"}')
    assert caught.value.field == "parameters.pointOfSale" and "channel BOX" in str(caught.value.found)
    with pytest.raises(InvalidInput) as caught:
        services.create_interface(admin_actor, type="TIXNGO", name="T", url=url,
                                  parameters_text='{"salesChannel": "NOPE", "pointOfSale": "WALLETPOS"}')
    assert caught.value.field == "parameters.salesChannel"


def test_injection_without_a_printing_point_of_sale_stops_naming_the_parameter(admin_actor, tix, catalogue, buyer):
    interface = services.create_interface(admin_actor, type="TIXNGO", name="T", url=tix.url + "/organizer/tickets",
                                          secret="k-123")
    sell(catalogue, 1, buyer)
    schedule = services.create_schedule(admin_actor, interface=interface, function="TIXNGO_TICKET_INJECTION")
    execution = run(schedule)
    assert execution.status == "ERROR" and "parameters.salesChannel" in execution.error_cause
    assert tix.handle.requests() == []
