"""Runs end to end: the ECHO function against the real echo sandbox."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from passgate.jobs import runner, scheduler, services
from passgate.jobs.models import Execution, ExecutionItem, PartnerCall, ProcessedMarker, Schedule
from passgate.jobs.tasks import run_schedule_task

from .conftest import ECHO_KEY


def run(schedule, **kw):
    return runner.run_schedule(schedule.pk, **kw)


def test_a_run_sends_tickets_and_records_items_calls_and_markers(echo, echo_schedule, catalogue):
    tickets = list(catalogue.sell_concert(3).tickets.all())
    execution = run(echo_schedule)
    assert execution.status == "OK", execution.error
    assert (execution.selected, execution.done, execution.failed, execution.skipped) == (3, 3, 0, 0)
    assert execution.ended_at >= execution.started_at and execution.summary.startswith("3 tickets echoed")
    items = list(ExecutionItem.objects.filter(execution=execution))
    assert {i.object_ref for i in items} == {t.barcode for t in tickets}
    assert {i.partner_code for i in items} == {"ACCEPTED"}
    calls = list(PartnerCall.objects.filter(execution=execution).values_list("method", "path", "status"))
    assert calls == [("GET", "/ping", 200), ("POST", "/batch", 200), ("POST", "/batch", 200)]  # chunks of 2
    assert ProcessedMarker.objects.filter(interface=echo_schedule.interface, function="ECHO_TICKETS").count() == 3
    assert len(echo.state()["data"]["items"]) == 3


def test_processed_markers_and_watermark_prevent_double_pushes(echo, echo_schedule, catalogue):
    catalogue.sell_concert(2)
    first = run(echo_schedule)
    second = run(echo_schedule)
    assert second.status == "OK" and second.selected == 0
    assert second.since == first.started_at  # the START of the last OK run
    catalogue.sell_concert(1)
    third = run(echo_schedule)
    assert third.selected == 1 and third.since == second.started_at
    assert len(echo.requests("/batch")) == 2


def test_date_from_overrides_the_watermark_but_markers_still_hold(echo, echo_schedule, catalogue):
    catalogue.sell_concert(2)
    run(echo_schedule)
    since = timezone.now() - dt.timedelta(days=1)
    again = run(echo_schedule, date_from=since)
    assert again.since == since and again.date_from_used and again.selected == 0


def test_partial_batch_failure_is_a_warning_and_the_failed_ticket_is_retried(echo, echo_schedule, catalogue):
    t1, t2, t3 = catalogue.sell_concert(3).tickets.all()
    echo.faults(partial={"ids": [t2.pk]})
    execution = run(echo_schedule)
    assert execution.status == "WARNING" and (execution.done, execution.failed) == (2, 1)
    failed = ExecutionItem.objects.get(execution=execution, outcome="FAILED")
    assert failed.ticket_id == t2.pk and failed.partner_code == "REJECTED" and failed.message
    assert not ProcessedMarker.objects.filter(ticket=t2).exists()
    echo.clear_faults()
    retry = run(echo_schedule)
    assert retry.status == "OK" and retry.selected == 1
    assert ExecutionItem.objects.get(execution=retry).ticket_id == t2.pk


def test_simulation_sends_nothing_marks_nothing_and_keeps_the_watermark(echo, admin_actor, echo_schedule,
                                                                        catalogue):
    catalogue.sell_concert(2)
    services.update_schedule(admin_actor, echo_schedule, simulation=True)
    execution = run(echo_schedule)
    assert execution.status == "OK" and execution.skipped == 2 and execution.simulation
    assert echo.requests() == [] and not ProcessedMarker.objects.exists()
    assert services.watermark(echo_schedule) is None
    assert "Simulation" in " ".join(services.schedule_warnings(echo_schedule))


def test_recurring_schedule_with_a_date_from_is_warned_about(admin_actor, echo_schedule):
    services.update_schedule(admin_actor, echo_schedule, date_from=timezone.now() - dt.timedelta(days=2))
    warnings = services.schedule_warnings(echo_schedule)
    assert any("keeps a date from" in w and "again" in w for w in warnings)
    services.update_schedule(admin_actor, echo_schedule, enabled=False)
    assert not any("date from" in w for w in services.schedule_warnings(echo_schedule))


def test_a_failing_run_ends_error_with_its_cause_and_never_the_secret(echo, admin_actor, echo_interface,
                                                                      echo_schedule, catalogue):
    catalogue.sell_concert(1)
    services.update_interface(admin_actor, echo_interface, secret="wrong-secret-value")
    execution = run(echo_schedule)
    assert execution.status == "ERROR"
    assert "refused the credentials" in execution.error and "401" in execution.error
    assert "field: secret" in execution.error_cause and "expected: valid credentials" in execution.error_cause
    assert "wrong-secret-value" not in execution.error + execution.error_cause + execution.summary
    assert mail.outbox and "Echo partner" in mail.outbox[0].subject


def test_schedule_parameters_are_validated_on_save(admin_actor, echo_interface):
    from passgate.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        services.create_schedule(admin_actor, interface=echo_interface, function="ECHO_TICKETS",
                                 parameters_text='{"chunk_size": 0}')
    assert exc.value.details[0]["path"] == "$.chunk_size"
    with pytest.raises(InvalidInput) as exc:
        services.create_schedule(admin_actor, interface=echo_interface, function="NOPE")
    assert exc.value.field == "function" and "ECHO_TICKETS" in exc.value.expected
    with pytest.raises(InvalidInput) as exc:
        services.create_schedule(admin_actor, interface=echo_interface, function="ECHO_TICKETS", batch_size=10**6)
    assert exc.value.field == "batch_size" and exc.value.expected == "1 to 10000"


# ---------------------------------------------------------------- lease

def test_a_schedule_running_elsewhere_is_busy(echo_schedule):
    Schedule.objects.filter(pk=echo_schedule.pk).update(
        lease_token="other", lease_expires_at=timezone.now() + dt.timedelta(minutes=1))
    with pytest.raises(runner.ScheduleBusy):
        run(echo_schedule)


def test_the_database_refuses_two_running_executions_of_one_schedule(echo_schedule):
    common = dict(organisation=echo_schedule.organisation, schedule=echo_schedule,
                  interface=echo_schedule.interface, function="ECHO_TICKETS", started_at=timezone.now())
    Execution.objects.create(**common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Execution.objects.create(**common)


def _lost_run(schedule):
    past = timezone.now() - dt.timedelta(minutes=5)
    Schedule.objects.filter(pk=schedule.pk).update(lease_token="dead", lease_expires_at=past)
    return Execution.objects.create(organisation=schedule.organisation, schedule=schedule,
                                    interface=schedule.interface, function=schedule.function, started_at=past,
                                    lease_token="dead")


def test_a_run_whose_worker_died_is_closed_by_the_next_run(echo, echo_schedule, catalogue):
    lost = _lost_run(echo_schedule)
    execution = run(echo_schedule)
    lost.refresh_from_db()
    assert lost.status == "ERROR" and lost.error == "worker lost" and lost.ended_at
    assert execution.status == "OK"
    assert any("worker lost" in m.subject for m in mail.outbox)


def test_the_scheduler_reaps_lost_runs_and_enqueues_the_next(echo_schedule):
    lost = _lost_run(echo_schedule)
    Schedule.objects.filter(pk=echo_schedule.pk).update(next_run_at=timezone.now())
    assert scheduler.tick() == [echo_schedule.pk]
    lost.refresh_from_db()
    assert lost.status == "ERROR" and "worker lost" in lost.error
    assert Schedule.objects.get(pk=echo_schedule.pk).lease_token is None


def test_a_live_run_renews_its_lease(echo, admin_actor, echo_schedule, settings):
    settings.JOBS_LEASE_SECONDS = 0.4
    services.update_schedule(admin_actor, echo_schedule, parameters_text='{"hold_seconds": 1.2}')
    execution = run(echo_schedule)
    assert execution.status == "OK"
    assert execution.heartbeat_at > execution.started_at + dt.timedelta(seconds=0.5)


# ---------------------------------------------------------------- scheduler and tasks

def test_a_due_schedule_is_enqueued_once_and_moves_on_its_grid(echo_schedule):
    due = timezone.now() - dt.timedelta(minutes=12)
    Schedule.objects.filter(pk=echo_schedule.pk).update(next_run_at=due)
    now = timezone.now()
    assert scheduler.tick(now) == [echo_schedule.pk]
    assert scheduler.tick(now) == []
    assert DBTaskResult.objects.count() == 1
    nxt = Schedule.objects.get(pk=echo_schedule.pk).next_run_at
    assert now < nxt <= now + dt.timedelta(minutes=5) and (nxt - due) % dt.timedelta(minutes=5) == dt.timedelta(0)


def test_running_disabled_and_future_schedules_are_not_enqueued(admin_actor, echo_schedule, echo_interface):
    Schedule.objects.filter(pk=echo_schedule.pk).update(
        next_run_at=timezone.now(), lease_token="x", lease_expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert scheduler.tick() == []  # stays due until its run ends
    Schedule.objects.filter(pk=echo_schedule.pk).update(lease_token=None, lease_expires_at=None)
    services.update_interface(admin_actor, echo_interface, enabled=False)
    assert scheduler.tick() == []
    services.update_interface(admin_actor, echo_interface, enabled=True)
    Schedule.objects.filter(pk=echo_schedule.pk).update(next_run_at=timezone.now() + dt.timedelta(minutes=1))
    assert scheduler.tick() == []


def test_the_task_runs_the_schedule_and_defers_when_busy(echo, echo_schedule, catalogue):
    catalogue.sell_concert(1)
    context = SimpleNamespace(task_result=SimpleNamespace(id="task-1"))
    result = run_schedule_task.call(context, echo_schedule.pk, "SCHEDULER", None)
    assert result["status"] == "OK" and Execution.objects.get().task_id == "task-1"
    Schedule.objects.filter(pk=echo_schedule.pk).update(
        lease_token="other", lease_expires_at=timezone.now() + dt.timedelta(minutes=1))
    deferred = run_schedule_task.call(context, echo_schedule.pk, "SCHEDULER", None)
    assert "deferred_to" in deferred
    queued = DBTaskResult.objects.get()
    assert queued.run_after is not None and queued.args_kwargs["args"][0] == echo_schedule.pk


def test_run_now_queues_a_manual_run(admin_actor, echo_schedule):
    task_id = services.run_now(admin_actor, echo_schedule)
    queued = DBTaskResult.objects.get(pk=task_id)
    assert queued.args_kwargs["args"][:2] == [echo_schedule.pk, "MANUAL"]


# ---------------------------------------------------------------- the command line

def test_run_schedule_command_runs_in_the_foreground(echo, echo_schedule, catalogue, capsys):
    catalogue.sell_concert(2)
    call_command("run_schedule", str(echo_schedule.pk), "--date-from", "2020-01-01")
    out = capsys.readouterr()
    assert "OK" in out.out
    execution = Execution.objects.get()
    assert execution.trigger == "CLI" and execution.date_from_used and execution.done == 2


def test_run_schedule_command_exits_non_zero_on_error(echo, admin_actor, echo_interface, echo_schedule):
    services.update_interface(admin_actor, echo_interface, secret="nope-nope")
    with pytest.raises(SystemExit) as exc:
        call_command("run_schedule", str(echo_schedule.pk), "--no-progress")
    assert exc.value.code == 1


def test_test_connection_in_plain_words(echo, admin_actor, echo_interface):
    report = services.test_connection(admin_actor, echo_interface)
    assert report.ok and "right" in report.message
    services.update_interface(admin_actor, echo_interface, secret="bad-bad")
    report = services.test_connection(admin_actor, echo_interface)
    assert not report.ok and "refused the API key" in report.message
    assert ECHO_KEY not in str(report.as_dict())


def test_demo_data_is_idempotent_and_points_at_the_demo_sandbox(org, admin_actor):
    from passgate.jobs.demo import load_demo

    load_demo(org, admin_actor)
    load_demo(org, admin_actor)
    schedule = Schedule.objects.exclude(interface__type="SYSTEM").get()
    assert schedule.interface.url == "http://127.0.0.1:8101" and schedule.function == "ECHO_TICKETS"
    # the demo organisation has its built-in maintenance schedules
    assert set(Schedule.objects.filter(interface__type="SYSTEM").values_list("function", flat=True)) >= {
        "JOBS_REAP_LOST", "JOBS_RETRY_NOTICES"}


@pytest.fixture
def test_function():
    """Register a throw-away ECHO function for one test."""
    from passgate.jobs import registry

    names = []

    def register(name, run):
        registry.register_function("ECHO", registry.FunctionSpec(name=name, label=name, run=run))
        names.append(name)

    yield register
    for name in names:
        registry.types()["ECHO"].functions.pop(name, None)


def test_a_bug_in_a_function_is_an_error_with_its_traceback(admin_actor, echo_interface, test_function):
    def broken(ctx):
        ctx.select(1)
        raise ValueError("the connector has a bug")

    test_function("TEST_BROKEN", broken)
    schedule = services.create_schedule(admin_actor, interface=echo_interface, function="TEST_BROKEN")
    execution = run(schedule)
    assert execution.status == "ERROR" and execution.error == "ValueError: the connector has a bug"
    assert "Traceback" in execution.error_cause and "broken" in execution.error_cause
    assert execution.selected == 1 and Schedule.objects.get(pk=schedule.pk).lease_token is None


def test_a_run_whose_lease_was_taken_over_stops_writing(admin_actor, echo_interface, test_function):
    def stolen(ctx):
        Schedule.objects.filter(pk=ctx.schedule.pk).update(lease_token="someone-else")
        ctx.heartbeat(force=True)
        raise AssertionError("never reached")

    test_function("TEST_STOLEN", stolen)
    schedule = services.create_schedule(admin_actor, interface=echo_interface, function="TEST_STOLEN")
    execution = run(schedule)
    assert execution.status == "RUNNING"  # left to whoever holds the lease now (the reaper closes it)
    assert Schedule.objects.get(pk=schedule.pk).lease_token == "someone-else"


def test_waiting_out_a_retry_after_renews_the_lease(echo, echo_schedule, catalogue, settings, monkeypatch):
    """The Retry-After wait (2 s) is longer than the lease (0.8 s): once the wait has lasted longer
    than a lease, another worker tries to take the schedule and must be refused."""
    settings.JOBS_LEASE_SECONDS = 0.8
    catalogue.sell_concert(1)
    echo.faults(rate_limit={"count": 1, "retry_after": 2})
    real_sleep = runner.time.sleep
    waited = {"s": 0.0}
    attempts: list[str] = []

    def sleep_then_compete(seconds):
        real_sleep(seconds)
        waited["s"] += seconds
        if waited["s"] >= 1.2 * 0.8 and not attempts:  # without renewal the lease has expired by now
            attempts.append("trying")
            try:
                runner.run_schedule(echo_schedule.pk, worker="another-worker")
                attempts.append("taken over")
            except runner.ScheduleBusy:
                attempts.append("refused")

    monkeypatch.setattr(runner.time, "sleep", sleep_then_compete)
    execution = run(echo_schedule)
    monkeypatch.undo()
    assert attempts == ["trying", "refused"]
    assert execution.status == "OK", execution.error
    assert [c.status for c in PartnerCall.objects.filter(execution=execution)][:2] == [429, 200]


def test_partner_clients_of_a_run_wait_through_the_lease_keeping_sleep(admin_actor, echo_interface, test_function):
    seen = {}

    def probe(ctx):
        with ctx.http() as client:
            seen["sleep"] = client.sleep == ctx.sleep
            seen["recorder"] = client.recorder == ctx.record_call

    test_function("TEST_PROBE", probe)
    schedule = services.create_schedule(admin_actor, interface=echo_interface, function="TEST_PROBE")
    assert run(schedule).status == "OK" and seen == {"sleep": True, "recorder": True}


def test_a_connector_error_quoting_the_secret_is_redacted_everywhere(admin_actor, echo_interface, test_function,
                                                                     caplog):
    def leaky(ctx):
        raise RuntimeError(f"cannot log in with {ctx.secret}")

    test_function("TEST_LEAKY", leaky)
    schedule = services.create_schedule(admin_actor, interface=echo_interface, function="TEST_LEAKY")
    execution = run(schedule)
    assert execution.status == "ERROR" and "***" in execution.error
    everything = execution.error + execution.error_cause + execution.summary + caplog.text
    assert ECHO_KEY not in everything
    assert all(ECHO_KEY not in m.body for m in mail.outbox) and mail.outbox
