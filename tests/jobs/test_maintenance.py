"""Built-in maintenance schedules, failure notices sent by workers and retried, the schedule's
state store (visible, editable by an administrator only)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from passgate.errors import Conflict, Forbidden, InvalidInput
from passgate.jobs import registry, runner, scheduler, services
from passgate.jobs.apps import SYSTEM_TYPE
from passgate.jobs.models import Execution, Interface, Schedule, ScheduleState
from passgate.jobs.tasks import send_execution_notice
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, create_organisation
from sandboxes.framework import free_port

from .test_interfaces import admin_client  # noqa: F401 - fixture


@pytest.fixture
def throwaway_builtin():
    def noop(ctx):
        ctx.summary = "nothing to do"

    registry.register_function(SYSTEM_TYPE, registry.FunctionSpec(
        name="TEST_BUILTIN", label="Test built-in", run=noop, builtin=True, default_frequency_minutes=7))
    yield "TEST_BUILTIN"
    registry.types()[SYSTEM_TYPE].functions.pop("TEST_BUILTIN", None)


def builtins_of(org) -> dict[str, int]:
    return dict(Schedule.objects.filter(organisation=org, interface__type=SYSTEM_TYPE)
                .values_list("function", "frequency_minutes"))


def test_every_registered_builtin_function_gets_a_schedule_in_every_organisation(throwaway_builtin, org):
    created = services.ensure_builtin_schedules(org)
    assert {"JOBS_REAP_LOST", "JOBS_RETRY_NOTICES", "TEST_BUILTIN"} <= {s.function for s in created}
    assert builtins_of(org)["TEST_BUILTIN"] == 7
    assert services.ensure_builtin_schedules(org) == []  # idempotent
    assert Interface.objects.filter(organisation=org, type=SYSTEM_TYPE).count() == 1
    # a new organisation: the scheduler's next pass notices it (orgs may not import jobs)
    newcomer = create_organisation("newco", "New Co")
    assert "TEST_BUILTIN" not in builtins_of(newcomer)
    scheduler.tick()
    assert "TEST_BUILTIN" in builtins_of(newcomer) and "TEST_BUILTIN" in builtins_of(org)
    assert not services.organisations_missing_builtins().exists()


def test_the_maintenance_interface_is_neither_deletable_nor_editable_beyond_its_schedules(org, admin_actor):
    services.ensure_builtin_schedules(org)
    interface = Interface.objects.get(organisation=org, type=SYSTEM_TYPE)
    schedule = Schedule.objects.get(interface=interface, function="JOBS_REAP_LOST")
    with pytest.raises(Conflict):
        services.delete_interface(admin_actor, interface)
    with pytest.raises(Conflict):
        services.update_interface(admin_actor, interface, name="mine now")
    with pytest.raises(Conflict):
        services.delete_schedule(admin_actor, schedule)
    with pytest.raises(InvalidInput) as exc:
        services.update_schedule(admin_actor, schedule, simulation=True)
    assert exc.value.field == "simulation"
    services.update_schedule(admin_actor, schedule, enabled=False, frequency_minutes=30)
    assert (Schedule.objects.get(pk=schedule.pk).frequency_minutes, schedule.enabled) == (30, False)


def test_the_reap_lost_builtin_closes_its_organisations_lost_runs(org, admin_actor, echo_schedule):
    services.ensure_builtin_schedules(org)
    past = timezone.now() - dt.timedelta(minutes=5)
    Schedule.objects.filter(pk=echo_schedule.pk).update(lease_token="dead", lease_expires_at=past)
    lost = Execution.objects.create(organisation=org, schedule=echo_schedule, interface=echo_schedule.interface,
                                    function="ECHO_TICKETS", started_at=past, lease_token="dead")
    reaper = Schedule.objects.get(organisation=org, function="JOBS_REAP_LOST")
    execution = runner.run_schedule(reaper.pk)
    assert execution.status == "OK" and execution.done == 1
    lost.refresh_from_db()
    assert lost.status == "ERROR" and lost.error == "worker lost"


# ---------------------------------------------------------------- notices

def _dead_run(schedule):
    past = timezone.now() - dt.timedelta(minutes=5)
    Schedule.objects.filter(pk=schedule.pk).update(lease_token="dead", lease_expires_at=past)
    return Execution.objects.create(organisation=schedule.organisation, schedule=schedule,
                                    interface=schedule.interface, function=schedule.function, started_at=past,
                                    lease_token="dead")


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_queues_notices_and_never_talks_smtp(settings, echo_schedule):
    """EMAIL_PORT points at a socket that accepts and never answers: a tick that sent mail would hang
    there (no timeout set); it returns, and the notice waits in the task queue for a worker."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", listener.getsockname()[1], None
    lost = _dead_run(echo_schedule)
    done = threading.Event()
    result: list = []
    try:
        def tick():
            try:
                result.append(scheduler.tick())
            finally:
                connection.close()
                done.set()

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        assert done.wait(60), "the scheduler's tick hung on the mail server"
    finally:
        listener.close()
    lost.refresh_from_db()
    assert lost.status == "ERROR" and lost.notice_status == "PENDING"
    queued = DBTaskResult.objects.filter(task_path__endswith="send_execution_notice")
    assert [t.args_kwargs["args"] for t in queued] == [[lost.pk]]


def test_a_notice_that_failed_is_sent_by_the_retry_function_exactly_once(settings, smtp, org, echo_schedule):
    services.ensure_builtin_schedules(org)
    lost = _dead_run(echo_schedule)
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = free_port(), 2  # SMTP down
    scheduler.tick()
    send_execution_notice.call(lost.pk)  # what the worker does with the queued task
    lost.refresh_from_db()
    assert (lost.notice_status, lost.notice_attempts) == ("FAILED", 1) and lost.notice_error
    assert smtp.messages == []
    settings.EMAIL_PORT = real_port  # SMTP back
    retry = Schedule.objects.get(organisation=org, function="JOBS_RETRY_NOTICES")
    first = runner.run_schedule(retry.pk)
    assert first.status == "OK" and first.done == 1
    second = runner.run_schedule(retry.pk)
    assert second.selected == 0
    assert len(smtp.messages) == 1 and "worker lost" in smtp.messages[0][2]["Subject"]
    lost.refresh_from_db()
    assert (lost.notice_status, lost.notice_attempts) == ("SENT", 2) and lost.notified_at


def test_notice_retries_are_bounded(settings, org, echo_schedule):
    settings.JOBS_NOTICE_MAX_ATTEMPTS = 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    services.ensure_builtin_schedules(org)
    lost = _dead_run(echo_schedule)
    scheduler.tick()
    send_execution_notice.call(lost.pk)
    retry = Schedule.objects.get(organisation=org, function="JOBS_RETRY_NOTICES")
    assert runner.run_schedule(retry.pk).failed == 1
    assert runner.run_schedule(retry.pk).selected == 0  # two attempts: given up
    lost.refresh_from_db()
    assert (lost.notice_status, lost.notice_attempts) == ("FAILED", 2)
    assert not mail.outbox


# ---------------------------------------------------------------- the state store

def test_a_value_written_by_a_run_is_shown_and_an_administrators_edit_is_used_by_the_next_run(
        echo, admin_actor, echo_schedule, catalogue):
    tickets = list(catalogue.sell_concert(3).tickets.order_by("id"))
    services.update_schedule(admin_actor, echo_schedule, batch_size=1)
    first = runner.run_schedule(echo_schedule.pk)
    state = {s.key: s for s in services.schedule_state(admin_actor, echo_schedule)}
    assert state["position"].value == {"change_seq": tickets[0].change_seq, "ticket_id": tickets[0].pk}
    assert state["position"].execution_id == first.pk
    # the administrator skips the second ticket on purpose
    services.set_schedule_state(admin_actor, echo_schedule, "position",
                                json.dumps({"change_seq": tickets[1].change_seq, "ticket_id": tickets[1].pk}))
    second = runner.run_schedule(echo_schedule.pk)
    assert second.items.get().ticket_id == tickets[2].pk


def test_only_an_administrator_may_see_or_change_the_state_and_bad_json_is_refused(admin_actor, echo_schedule):
    clerk = Actor(organisation=admin_actor.organisation, role=Role.BOX_OFFICE, label="clerk")
    with pytest.raises(Forbidden):
        services.schedule_state(clerk, echo_schedule)
    with pytest.raises(Forbidden):
        services.set_schedule_state(clerk, echo_schedule, "cursor", '"x"')
    with pytest.raises(InvalidInput) as exc:
        services.set_schedule_state(admin_actor, echo_schedule, "cursor", '{"a": 1, "a": 2}')
    assert exc.value.field.startswith("state.cursor")
    Schedule.objects.filter(pk=echo_schedule.pk).update(
        lease_token="busy", lease_expires_at=timezone.now() + dt.timedelta(minutes=1))
    with pytest.raises(Conflict):
        services.set_schedule_state(admin_actor, echo_schedule, "cursor", '"x"')
    assert not ScheduleState.objects.exists()


def test_the_state_over_the_api_administrators_only_audited_and_validated(echo, admin_actor, echo_schedule,
                                                                          catalogue, api_client):
    from conftest import bearer_client

    from passgate.orgs.models import AuditEntry

    catalogue.sell_concert(2)
    services.update_schedule(admin_actor, echo_schedule, batch_size=1)
    runner.run_schedule(echo_schedule.pk)
    url = f"/api/v1/schedules/{echo_schedule.pk}/state"
    got = api_client.get(url)
    assert got.status_code == 200, got.content
    body = got.json()
    assert "Do not touch this value" in body["warning"]
    assert [v["key"] for v in body["values"]] == ["position"] and body["values"][0]["execution_id"]
    bad = api_client.put(url, {"key": "cursor", "value": '{"page": 1, "page": 2}'}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"].startswith("state.cursor")
    put = api_client.put(url, {"key": "cursor", "value": '{"page": 7}'}, content_type="application/json")
    assert put.status_code == 200 and {"key": "cursor", "value": {"page": 7}}.items() <= put.json()["values"][0].items()
    assert AuditEntry.objects.filter(action="set_state").count() == 1
    viewer = bearer_client(admin_actor, role=Role.READ_ONLY, name="viewer")
    assert viewer.get(url).status_code == 403
    assert viewer.put(url, {"key": "cursor", "value": "1"}, content_type="application/json").status_code == 403
    assert ScheduleState.objects.get(key="cursor").value == {"page": 7}
    executions = api_client.get(f"/api/v1/executions?schedule_id={echo_schedule.pk}").json()["items"]
    assert executions[0]["remaining"] == 1 and executions[0]["notice_status"] == ""


def test_the_admin_shows_the_state_with_its_warning_and_lets_an_administrator_edit_it(
        echo, admin_actor, echo_schedule, catalogue, org):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from passgate.orgs.models import Membership

    tickets = list(catalogue.sell_concert(2).tickets.order_by("id"))
    services.update_schedule(admin_actor, echo_schedule, batch_size=1)
    execution = runner.run_schedule(echo_schedule.pk)

    def client_for(role):
        user = get_user_model().objects.create_user(f"u-{role}", password="pw", is_staff=True)
        Membership.objects.create(user=user, organisation=org, role=role)
        client = Client()
        client.force_login(user)
        return client

    admin = client_for(Role.ADMINISTRATOR)
    page = admin.get(reverse("admin:jobs_schedule_change", args=[echo_schedule.pk])).content.decode()
    assert "Do not touch this value if you do not know what you are doing" in page
    assert f"&quot;ticket_id&quot;: {tickets[0].pk}" in page or f'"ticket_id": {tickets[0].pk}' in page
    page = admin.get(reverse("admin:jobs_execution_change", args=[execution.pk])).content.decode()
    assert "Remaining" in page
    state_url = reverse("admin:jobs_schedule_state", args=[echo_schedule.pk])
    response = admin.post(state_url, {"key": "position", "value": "{nope"})
    assert response.status_code == 200 and "errornote" in response.content.decode()
    response = admin.post(state_url, {"key": "position", "value": json.dumps(
        {"change_seq": tickets[1].change_seq, "ticket_id": tickets[1].pk})})
    assert response.status_code == 302
    assert runner.run_schedule(echo_schedule.pk).selected == 0  # the edit is what the next run used
    before = ScheduleState.objects.get(key="position").value
    clerk = client_for(Role.BOX_OFFICE)
    clerk.post(state_url, {"key": "position", "value": "null"})
    assert ScheduleState.objects.get(key="position").value == before


def test_the_command_line_says_how_many_are_left(echo, admin_actor, echo_schedule, catalogue, capsys):
    from django.core.management import call_command

    catalogue.sell_concert(3)
    services.update_schedule(admin_actor, echo_schedule, batch_size=2)
    call_command("run_schedule", str(echo_schedule.pk), "--no-progress")
    assert "left for the next run: 1" in capsys.readouterr().out


def test_the_admin_lets_a_builtin_schedule_change_only_its_frequency_and_never_deletes_it(org, admin_client):  # noqa: F811
    from django.urls import reverse

    services.ensure_builtin_schedules(org)
    schedule = Schedule.objects.get(organisation=org, function="JOBS_REAP_LOST")
    url = reverse("admin:jobs_schedule_change", args=[schedule.pk])
    response = admin_client.post(url, {"enabled": "on", "frequency_minutes": "15"})
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule.refresh_from_db()
    assert schedule.frequency_minutes == 15 and schedule.function == "JOBS_REAP_LOST"
    assert admin_client.post(reverse("admin:jobs_schedule_delete", args=[schedule.pk]),
                             {"post": "yes"}).status_code == 403
    interface = schedule.interface
    assert admin_client.post(reverse("admin:jobs_interface_delete", args=[interface.pk]),
                             {"post": "yes"}).status_code == 403
    assert Schedule.objects.filter(pk=schedule.pk).exists()
