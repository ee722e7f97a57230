"""Selection by position in the organisation's change sequence, markers keyed on what was sent,
pending retries: ECHO_TICKETS against the real echo sandbox."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from passgate.jobs import runner, services
from passgate.jobs.models import ExecutionItem, PendingRetry, ProcessedMarker, ScheduleState
from passgate.sales import services as sales
from passgate.sales.models import Ticket


def run(schedule, **kw):
    return runner.run_schedule(schedule.pk, **kw)


def sent(execution) -> list[tuple[int, str]]:
    return sorted(ExecutionItem.objects.filter(execution=execution, outcome="DONE")
                  .values_list("ticket_id", "object_ref"))


def test_a_run_cut_by_the_batch_size_leaves_the_rest_to_the_next_run(echo, admin_actor, echo_schedule, catalogue):
    tickets = list(catalogue.sell_concert(3).tickets.order_by("id"))
    services.update_schedule(admin_actor, echo_schedule, batch_size=2)
    first = run(echo_schedule)
    assert first.status == "OK" and first.done == 2 and first.remaining == 1
    position = ScheduleState.objects.get(schedule=echo_schedule, key="position").value
    assert position == {"change_seq": tickets[1].change_seq, "ticket_id": tickets[1].pk}  # mid-way
    second = run(echo_schedule)
    assert second.done == 1 and second.remaining == 0
    assert [t for t, _ in sent(first) + sent(second)] == [t.pk for t in tickets]
    third = run(echo_schedule)
    assert third.selected == 0 and third.remaining == 0


def test_every_ticket_changing_service_stamps_a_new_change_number(catalogue, admin_actor):
    order = catalogue.sell_concert(3)
    a, b, c = order.tickets.order_by("id")
    assert a.change_seq == b.change_seq == c.change_seq > 0  # one change, one number
    seen = a.change_seq
    for change in (lambda: sales.print_ticket(admin_actor, a), lambda: sales.reprint_ticket(admin_actor, a),
                   lambda: sales.invalidate_ticket(admin_actor, b), lambda: sales.cancel_ticket(admin_actor, a)):
        change()
        newest = Ticket.objects.order_by("-change_seq").values_list("change_seq", flat=True).first()
        assert newest > seen
        seen = newest
    sales.cancel_order(admin_actor, order)
    c.refresh_from_db()
    assert c.status == "CANCELLED" and c.change_seq > seen


def test_a_ticket_cancelled_after_it_was_sent_is_sent_again(echo, admin_actor, echo_schedule, catalogue):
    services.update_schedule(admin_actor, echo_schedule,
                             parameters_text='{"statuses": ["NOT_PRINTED", "PRINTED", "CANCELLED"]}')
    ticket = catalogue.sell_concert(1).tickets.get()
    assert sent(run(echo_schedule)) == [(ticket.pk, ticket.barcode)]
    assert run(echo_schedule).selected == 0
    sales.cancel_ticket(admin_actor, ticket)
    again = run(echo_schedule)
    assert again.status == "OK" and sent(again) == [(ticket.pk, ticket.barcode)]
    marker = ProcessedMarker.objects.get(ticket=ticket)
    assert marker.sent_key == f"CANCELLED|{ticket.barcode}" and marker.execution_id == again.pk
    assert run(echo_schedule).selected == 0


def test_a_reprinted_ticket_is_sent_again_with_its_new_barcode(echo, admin_actor, echo_schedule, catalogue):
    ticket = catalogue.sell_concert(1).tickets.get()
    sales.print_ticket(admin_actor, ticket)
    run(echo_schedule)
    old = ticket.barcode
    ticket = sales.reprint_ticket(admin_actor, ticket)
    again = run(echo_schedule)
    assert sent(again) == [(ticket.pk, ticket.barcode)] and ticket.barcode != old


def test_a_failed_ticket_is_retried_from_the_pending_retries_then_closed(echo, echo_schedule, catalogue):
    t1, t2, t3 = catalogue.sell_concert(3).tickets.order_by("id")
    echo.faults(partial={"ids": [t2.pk]})
    first = run(echo_schedule)
    assert first.status == "WARNING" and (first.done, first.failed) == (2, 1)
    retry = PendingRetry.objects.get(schedule=echo_schedule)
    assert retry.ticket_id == t2.pk and retry.attempts == 1 and retry.last_error
    again = run(echo_schedule)  # still refused: one more attempt, nothing else selected
    assert again.selected == 1 and PendingRetry.objects.get().attempts == 2
    echo.clear_faults()
    third = run(echo_schedule)
    assert third.status == "OK" and sent(third) == [(t2.pk, t2.barcode)]
    assert not PendingRetry.objects.exists()


def test_a_pending_retry_no_longer_wanted_is_closed(echo, admin_actor, echo_schedule, catalogue):
    ticket = catalogue.sell_concert(1).tickets.get()
    echo.faults(partial={"ids": [ticket.pk]})
    run(echo_schedule)
    sales.cancel_ticket(admin_actor, ticket)  # ECHO_TICKETS sends NOT_PRINTED and PRINTED only
    assert run(echo_schedule).selected == 0 and not PendingRetry.objects.exists()


def test_a_date_from_catch_up_moves_neither_the_regular_position_nor_resends(echo, admin_actor, echo_schedule,
                                                                             catalogue):
    catalogue.sell_concert(2)
    run(echo_schedule)
    position = ScheduleState.objects.get(schedule=echo_schedule, key="position").value
    catalogue.sell_concert(1)  # not yet seen by the regular runs
    catch_up = run(echo_schedule, date_from=timezone.now() - dt.timedelta(days=1))
    assert catch_up.date_from_used and catch_up.done == 1  # the two sent already are not sent again
    assert ScheduleState.objects.get(schedule=echo_schedule, key="position").value == position
    assert ScheduleState.objects.get(schedule=echo_schedule, key="catch_up").value["date_from"]
    regular = run(echo_schedule)
    assert regular.selected == 0  # sent by the catch-up in this version: the marker holds


@pytest.fixture
def throwaway_function():
    from passgate.jobs import registry

    names = []

    def register(name, fn):
        registry.register_function("ECHO", registry.FunctionSpec(name=name, label=name, run=fn))
        names.append(name)

    yield register
    for name in names:
        registry.types()["ECHO"].functions.pop(name, None)


def test_a_run_that_stops_resumes_after_the_last_recorded_chunk(admin_actor, echo_interface, catalogue,
                                                                throwaway_function):
    tickets = list(catalogue.sell_concert(5).tickets.order_by("id"))
    seen: list[list[int]] = []

    def chunky(ctx):
        selected = ctx.changed_tickets(Ticket.objects.all())
        seen.append([t.pk for t in selected])
        for start in range(0, len(selected), 2):
            if len(seen) == 1 and start == 2:
                raise RuntimeError("the partner went away")
            ctx.record(runner.ItemRecord("DONE", t, mark_processed=True) for t in selected[start:start + 2])

    throwaway_function("TEST_CHUNKY", chunky)
    schedule = services.create_schedule(admin_actor, interface=echo_interface, function="TEST_CHUNKY")
    first = run(schedule)
    assert first.status == "ERROR" and first.done == 2
    position = ScheduleState.objects.get(schedule=schedule, key="position").value
    assert position == {"change_seq": tickets[1].change_seq, "ticket_id": tickets[1].pk}  # with the 1st chunk
    assert run(schedule).status == "OK"
    assert seen[1] == [t.pk for t in tickets[2:]]


# ---------------------------------------------------------------- a writer that commits late

@pytest.mark.django_db(transaction=True)
def test_a_ticket_committed_after_the_run_read_is_not_skipped(echo, admin_actor, echo_schedule, catalogue):
    """A sale that took its change number before a run started and commits after the run read is
    picked up by the next run. (On PostgreSQL the run does not wait for it; on SQLite the run's
    first write waits for the writer's commit — the lock order — and so sees it.)"""
    early = catalogue.sell_concert(1).tickets.get()
    numbered, release, done = threading.Event(), threading.Event(), threading.Event()
    late: list[int] = []
    errors: list[BaseException] = []

    def writer():
        try:
            with transaction.atomic():
                order = catalogue.sell_concert(1)  # takes its number, stamps updated_at now
                late.extend(order.tickets.values_list("pk", flat=True))
                numbered.set()
                release.wait(60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            numbered.set()
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert numbered.wait(60) and not errors, errors
    runs = []
    if connection.vendor == "postgresql":
        runs.append(run(echo_schedule))  # reads while the writer is still in flight
        release.set()
        thread.join(60)
    else:
        reader = threading.Thread(target=lambda: (runs.append(run(echo_schedule)), connection.close()))
        reader.start()
        release.set()  # the run's first write queues behind the writer's lock
        thread.join(60)
        reader.join(60)
    assert not errors, errors
    runs.append(run(echo_schedule))
    sent_ids = [t for r in runs for t, _ in sent(r)]
    assert sorted(sent_ids) == sorted([early.pk, *late])
    if connection.vendor == "postgresql":
        assert sent(runs[0]) == [(early.pk, early.barcode)]  # the late one was in flight


def test_the_access_change_log_logs_a_ticket_change_under_the_tickets_own_number(catalogue, admin_actor):
    from passgate.access.models import AccessChange

    ticket = catalogue.sell_concert(1).tickets.get()
    ticket = sales.reprint_ticket(admin_actor, sales.print_ticket(admin_actor, ticket))
    logged = AccessChange.objects.filter(ref_id=ticket.pk, kind="TICKET").order_by("-seq").first()
    assert logged.seq == ticket.change_seq  # one number for the change, not a second one
    assert AccessChange.objects.filter(kind="RETIRED", seq=ticket.change_seq).exists()
