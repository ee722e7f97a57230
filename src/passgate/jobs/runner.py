"""Running one schedule: the lease, the execution record, the run context given
to the connector's function, and the reaper of runs whose worker died.

The lease lives on the schedule row (lease_token, lease_expires_at) and is
taken with a conditional UPDATE, so the database decides; a partial unique
index also forbids two RUNNING executions of one schedule. A live run renews
its lease as it goes (every item, every partner call); a run whose lease
expired is closed as ERROR "worker lost" by the next one to look (the scheduler
or the next run of that schedule)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from passgate.errors import Conflict, NotFound, PassgateError
from passgate.jobs import registry
from passgate.jobs.partner_http import PartnerClient
from passgate.orgs.services import Actor

from . import secrets as secret_store
from .models import (
    Execution,
    ExecutionItem,
    ExecutionStatus,
    Interface,
    ItemOutcome,
    PartnerCall,
    PendingRetry,
    ProcessedMarker,
    Schedule,
    ScheduleState,
    Trigger,
)
from .params import validate

logger = logging.getLogger("passgate.jobs")

WORKER_LOST = "worker lost"

# What a marker remembers of a ticket by default: a cancellation or a reprint (new barcode) is a
# new version that a function sends again.
DEFAULT_SENT_KEY: tuple[str, ...] = ("status", "barcode")
# State keys of the selection by position (ctx.changed_tickets).
POSITION_KEY = "position"
CATCH_UP_KEY = "catch_up"
# Execution.remaining is counted up to this (a bounded COUNT: cheap whatever the backlog).
REMAINING_COUNT_LIMIT = 100_000


class ScheduleBusy(Conflict):
    code = "schedule_running"


class LeaseLost(Exception):
    """This run's lease was taken over (it expired): stop without writing more."""


def lease_seconds() -> float:
    return float(getattr(settings, "JOBS_LEASE_SECONDS", 120))


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def watermark(schedule: Schedule) -> dt.datetime | None:
    """Start time of the last non-simulated execution of this schedule ending OK or WARNING."""
    return (Execution.objects.filter(schedule=schedule, status__in=[ExecutionStatus.OK, ExecutionStatus.WARNING],
                                     simulation=False)
            .order_by("-started_at").values_list("started_at", flat=True).first())


# ---------------------------------------------------------------- progress

class Progress:
    """Receives the run's progress (the CLI shows a bar)."""

    def total(self, n: int) -> None:  # pragma: no cover - interface
        pass

    def advance(self, n: int = 1) -> None:  # pragma: no cover - interface
        pass


@dataclass
class ItemRecord:
    outcome: str
    ticket: Any = None
    object_ref: str = ""
    partner_code: str = ""
    message: str = ""
    mark_processed: bool = False
    # What was sent (the marker's key); None = the ticket's key in the fields the selection used.
    sent_key: str | None = None


def sent_key_of(ticket: Any, fields: tuple[str, ...] = DEFAULT_SENT_KEY) -> str:
    """The ticket's version in these fields, as a marker stores it ("PRINTED|A1B2…")."""
    return "|".join("" if getattr(ticket, f) is None else str(getattr(ticket, f)) for f in fields)[:200]


def _sent_key_sql(fields: tuple[str, ...]):
    """The same key computed by the database on the outer ticket row (see sent_key_of)."""
    parts: list[Any] = []
    for i, f in enumerate(fields):
        if i:
            parts.append(Value("|"))
        parts.append(Cast(OuterRef(f), output_field=CharField()))
    return parts[0] if len(parts) == 1 else Concat(*parts, output_field=CharField())


def _after(position: dict | None) -> Q:
    """Tickets strictly after a position {change_seq, ticket_id} (ticket_id None: the whole number)."""
    if not position:
        return Q()
    seq = int(position["change_seq"])
    if position.get("ticket_id") is None:
        return Q(change_seq__gt=seq)
    return Q(change_seq__gt=seq) | Q(change_seq=seq, pk__gt=int(position["ticket_id"]))


class RunContext:
    """What a connector function gets: the configuration, the parameters, the
    watermark, the partner HTTP client, and the ways to record what it did."""

    def __init__(self, execution: Execution, schedule: Schedule, fn: registry.FunctionSpec,
                 params: Any, interface_params: Any, lease_token: str, lease: float,
                 progress: Progress | None = None) -> None:
        self.execution = execution
        self.schedule = schedule
        self.interface: Interface = schedule.interface
        self.organisation = schedule.organisation
        self.function = fn
        self.params = params
        self.interface_params = interface_params
        self.since: dt.datetime | None = execution.since
        self.simulation: bool = execution.simulation
        self.batch_size: int | None = execution.batch_size
        self.actor = Actor.system(self.organisation, f"job:{self.interface.name}/{fn.name}"[:200])
        self.summary = ""
        self.counts = {"selected": 0, "done": 0, "failed": 0, "skipped": 0}
        self._lease_token = lease_token
        self._lease = lease
        self._renewed = time.monotonic()
        self._progress = progress or Progress()
        self._secret: str | None = None
        # Values kept between runs (ScheduleState), read once at the start; an administrator's edit
        # made while the schedule was idle is what this run sees.
        self.state: dict[str, Any] = dict(ScheduleState.objects.filter(schedule=schedule)
                                          .values_list("key", "value"))
        self._pending_state: dict[str, Any] = {}
        self._sent_fields: tuple[str, ...] = DEFAULT_SENT_KEY
        # The selection by position (changed_tickets): its keys in order, how far it is recorded.
        self._selection: list[tuple[int, int]] = []
        self._selection_end: dict | None = None
        self._recorded: set[int] = set()
        self._done_upto = 0
        self._position_key: str | None = None
        self._position_extra: dict[str, Any] = {}
        self._retry_ids: set[int] = set()
        self.remaining: int | None = None

    # -------------------------------------------------------------- configuration
    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = secret_store.decrypt(self.interface.secret_encrypted)
        return self._secret

    def http(self, client_class: type[PartnerClient] = PartnerClient, **kwargs: Any) -> PartnerClient:
        """A partner client whose calls are recorded on this execution and renew the lease."""
        kwargs.setdefault("secrets", [self.secret])
        kwargs.setdefault("recorder", self.record_call)
        kwargs.setdefault("sleep", self.sleep)  # waiting out a Retry-After keeps the lease alive
        return client_class(self.interface.url, **kwargs)

    # -------------------------------------------------------------- recording
    def record_call(self, *, method: str, path: str, status: int | None, duration_ms: int, attempt: int,
                    error: str = "") -> None:
        PartnerCall.objects.create(organisation=self.organisation, execution=self.execution, at=timezone.now(),
                                   method=method, path=path[:500], status=status, duration_ms=duration_ms,
                                   attempt=attempt, error=error[:300])
        self.heartbeat()

    def select(self, n: int) -> None:
        """Announce n more items selected for this run."""
        self.counts["selected"] += n
        self._progress.total(self.counts["selected"])

    def record(self, records: Iterable[ItemRecord], state: dict[str, Any] | None = None) -> None:
        """Write item outcomes, in one transaction with what they imply: processed markers (what
        was sent), the schedule's pending retries (a failure is retried by the next runs, a success
        closes it), the position reached in the selection, and `state` (values kept between runs)."""
        records = list(records)
        if not records and not state:
            return
        now = timezone.now()
        items = []
        markers = []
        failed: list[ItemRecord] = []
        handled: list[int] = []
        for r in records:
            if r.outcome not in ItemOutcome.values:
                raise ValueError(f"unknown outcome {r.outcome!r}")
            ref = r.object_ref or (getattr(r.ticket, "barcode", "") if r.ticket is not None else "")
            items.append(ExecutionItem(organisation=self.organisation, execution=self.execution, ticket=r.ticket,
                                       object_ref=ref[:160], outcome=r.outcome, partner_code=r.partner_code[:80],
                                       message=r.message, at=now))
            if r.ticket is not None and not self.simulation:
                if r.outcome == ItemOutcome.FAILED:
                    failed.append(r)
                else:
                    handled.append(r.ticket.pk)
                if r.mark_processed and r.outcome == ItemOutcome.DONE:
                    key = r.sent_key if r.sent_key is not None else sent_key_of(r.ticket, self._sent_fields)
                    markers.append(ProcessedMarker(organisation=self.organisation, interface=self.interface,
                                                   function=self.function.name, ticket=r.ticket, sent_key=key,
                                                   processed_at=now, execution=self.execution))
            if r.ticket is not None:
                self._recorded.add(r.ticket.pk)
            count = {"DONE": "done", "FAILED": "failed", "SKIPPED": "skipped"}[r.outcome]
            self.counts[count] += 1
        pending = dict(state or {})
        if not self.simulation:
            position = self._advance_position()
            if position is not None:
                pending[self._position_key] = position
        with transaction.atomic():
            ExecutionItem.objects.bulk_create(items)
            if markers:
                # one marker per ticket: the version the partner has now
                ProcessedMarker.objects.bulk_create(
                    markers, update_conflicts=True, unique_fields=["interface", "function", "ticket"],
                    update_fields=["sent_key", "processed_at", "execution"])
            if handled:
                PendingRetry.objects.filter(schedule=self.schedule, ticket_id__in=handled).delete()
            for r in failed:
                self._remember_failure(r, now)
            if pending:
                self._write_state(pending, now)
        self._progress.advance(len(records))
        self.heartbeat()

    def save_state(self, **values: Any) -> None:
        """Keep values for the next runs (in the current transaction if there is one: write it with
        the items it covers, or pass `state=` to record())."""
        if self.simulation:
            self.state.update(values)
            return
        with transaction.atomic():
            self._write_state(values, timezone.now())

    def _write_state(self, values: dict[str, Any], now: dt.datetime) -> None:
        for key, value in values.items():
            ScheduleState.objects.update_or_create(
                schedule=self.schedule, key=key,
                defaults={"organisation": self.organisation, "value": value, "updated_at": now,
                          "execution": self.execution, "updated_by": ""})
            self.state[key] = value

    def _remember_failure(self, r: ItemRecord, now: dt.datetime) -> None:
        key = r.sent_key if r.sent_key is not None else sent_key_of(r.ticket, self._sent_fields)
        error = (r.message or r.partner_code or "failed")[:2000]
        updated = PendingRetry.objects.filter(schedule=self.schedule, ticket=r.ticket).update(
            attempts=F("attempts") + 1, last_error=error, last_failed_at=now, sent_key=key,
            execution=self.execution)
        if not updated:
            PendingRetry.objects.create(organisation=self.organisation, schedule=self.schedule, ticket=r.ticket,
                                        sent_key=key, attempts=1, last_error=error, first_failed_at=now,
                                        last_failed_at=now, execution=self.execution)

    def item(self, outcome: str, *, ticket: Any = None, object_ref: str = "", partner_code: str = "",
             message: str = "", mark_processed: bool = False) -> None:
        self.record([ItemRecord(outcome, ticket, object_ref, partner_code, message, mark_processed)])

    # -------------------------------------------------------------- selection helpers
    def unprocessed(self, queryset, sent_key: tuple[str, ...] | None = None):
        """Tickets of `queryset` whose current version (in the `sent_key` fields, default status and
        barcode) this function of this interface has not sent yet: a ticket sent, then cancelled
        or reprinted, is back."""
        fields = tuple(sent_key or self._sent_fields)
        self._sent_fields = fields
        sent = ProcessedMarker.objects.filter(interface=self.interface, function=self.function.name,
                                              ticket=OuterRef("pk"), sent_key=_sent_key_sql(fields))
        return queryset.filter(~Exists(sent))

    def is_processed(self, ticket: Any) -> bool:
        return ProcessedMarker.objects.filter(interface=self.interface, function=self.function.name,
                                              ticket=ticket,
                                              sent_key=sent_key_of(ticket, self._sent_fields)).exists()

    def changed_tickets(self, queryset, sent_key: tuple[str, ...] | None = None) -> list[Any]:
        """The tickets of `queryset` to handle in this run, in change order, at most batch_size:

        1. the schedule's pending retries (tickets it failed on), if they still match;
        2. then the tickets changed after the position the last run reached, ordered by
           (change_seq, id) — the organisation's change sequence, which commits in order, so
           nothing committed late is skipped — or, with a date from (a one-off catch-up), the
           tickets updated since that date, from a catch-up position of their own (the regular
           position is neither moved back nor forward);
        3. minus what this function already sent in the same version (markers, `sent_key`).

        The position moves with the items recorded (ctx.record, same transaction) — a run stopped
        at batch_size or killed leaves it mid-way and the next run continues from there — and
        self.remaining says how many are left."""
        from passgate.sales import changes

        qs = self.unprocessed(queryset.filter(organisation=self.organisation), sent_key)
        batch = self.batch_size or None
        retry_ids = list(PendingRetry.objects.filter(schedule=self.schedule).order_by("ticket_id")
                         .values_list("ticket_id", flat=True)[:batch])
        retries = list(qs.filter(pk__in=retry_ids).order_by("change_seq", "pk")) if retry_ids else []
        gone = set(retry_ids) - {t.pk for t in retries}
        if gone and not self.simulation:  # no longer wanted (status changed, sent since): close them
            PendingRetry.objects.filter(schedule=self.schedule, ticket_id__in=gone).delete()
        self._retry_ids = {t.pk for t in retries}
        if self.execution.date_from_used and self.since is not None:
            self._position_key = CATCH_UP_KEY
            self._position_extra = {"date_from": self.since.isoformat()}
            saved = self.state.get(CATCH_UP_KEY) or {}
            position = saved if saved.get("date_from") == self.since.isoformat() else None
            qs = qs.filter(updated_at__gte=self.since)
        else:
            self._position_key = POSITION_KEY
            self._position_extra = {}
            position = self.state.get(POSITION_KEY)
        # Read the counter BEFORE selecting: every number up to it is committed, hence visible to
        # the query below; a selection that was not cut by the batch size has seen all of them.
        last_committed = changes.current_seq(self.organisation.pk)
        fresh_qs = qs.filter(_after(position)).exclude(pk__in=self._retry_ids).order_by("change_seq", "pk")
        room = None if batch is None else max(0, batch - len(retries))
        fresh = list(fresh_qs[:room] if room is not None else fresh_qs)
        cut = room is not None and len(fresh) >= room
        self._selection = [(t.change_seq, t.pk) for t in fresh]
        self._done_upto = 0
        if cut:
            self._selection_end = None
            last = ({"change_seq": fresh[-1].change_seq, "ticket_id": fresh[-1].pk} if fresh else position)
            left = qs.filter(_after(last)).exclude(pk__in=self._retry_ids)
            self.remaining = left[:REMAINING_COUNT_LIMIT].count()
        else:
            self._selection_end = {"change_seq": last_committed, "ticket_id": None}
            self.remaining = 0
        if len(retry_ids) == batch:
            self.remaining += max(0, PendingRetry.objects.filter(schedule=self.schedule).count() - len(retries))
        selected = retries + fresh
        self.select(len(selected))
        return selected

    def _advance_position(self) -> dict | None:
        """How far the selection is recorded without a gap (None: not moved)."""
        if self._position_key is None:
            return None
        start = self._done_upto
        while self._done_upto < len(self._selection) and self._selection[self._done_upto][1] in self._recorded:
            self._done_upto += 1
        if self._done_upto == len(self._selection) and self._selection_end is not None:
            end = self._selection_end
            self._selection_end = None  # written once
            return {**end, **self._position_extra}
        if self._done_upto == start:
            return None
        seq, pk = self._selection[self._done_upto - 1]
        return {"change_seq": seq, "ticket_id": pk, **self._position_extra}

    def finish_selection(self) -> None:
        """The function returned normally: it has handled its whole selection (a ticket it chose not
        to record included), so the position moves to its end."""
        if self.simulation or self._position_key is None:
            return
        self._recorded.update(pk for _, pk in self._selection)
        position = self._advance_position()
        if position is not None:
            with transaction.atomic():
                self._write_state({self._position_key: position}, timezone.now())

    # -------------------------------------------------------------- lease
    def heartbeat(self, force: bool = False) -> None:
        """Renew the lease (at most every quarter of its length) and save the counts."""
        if not force and time.monotonic() - self._renewed < self._lease / 4:
            return
        now = timezone.now()
        renewed = Schedule.objects.filter(pk=self.schedule.pk, lease_token=self._lease_token).update(
            lease_expires_at=now + dt.timedelta(seconds=self._lease))
        if not renewed:
            raise LeaseLost(f"the lease of schedule {self.schedule.pk} was taken over")
        Execution.objects.filter(pk=self.execution.pk, status=ExecutionStatus.RUNNING).update(
            heartbeat_at=now, **self.counts)
        self._renewed = time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait while keeping the lease alive."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, max(0.05, self._lease / 8)))
            self.heartbeat()


# ---------------------------------------------------------------- closing runs

def _close(execution_id: int, status: str, *, error: str = "", cause: str = "", summary: str | None = None,
           counts: dict[str, int] | None = None, only_token: str | None = None,
           remaining: int | None = None) -> bool:
    fields: dict[str, Any] = {"status": status, "ended_at": timezone.now()}
    if remaining is not None:
        fields["remaining"] = remaining
    if error:
        fields["error"] = error
        fields["error_cause"] = cause
    if summary is not None:
        fields["summary"] = summary
    if counts:
        fields.update(counts)
    qs = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING)
    if only_token is not None:
        qs = qs.filter(lease_token=only_token)
    return bool(qs.update(**fields))


def _close_lost(schedule_id: int, token: str | None = None) -> list[int]:
    """Inside a transaction holding the schedule's lease: close its RUNNING executions."""
    qs = Execution.objects.filter(schedule_id=schedule_id, status=ExecutionStatus.RUNNING)
    if token:
        qs = qs.filter(lease_token=token)
    lost_rows = list(qs.values_list("pk", "task_id"))
    lost = [pk for pk, _ in lost_rows]
    _fail_tasks([task_id for _, task_id in lost_rows if task_id])
    for pk in lost:
        _close(pk, ExecutionStatus.ERROR, error=WORKER_LOST,
               cause="the worker running this execution stopped renewing its lease (process killed, machine "
                     "lost or stuck); the run was closed so that the next one can proceed",
               summary="stopped: worker lost")
    return lost


def _fail_tasks(task_ids: list[str]) -> None:
    """The task rows of a dead worker stay RUNNING in the queue: record them as failed."""
    if not task_ids:
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(pk__in=task_ids, status="RUNNING").update(
        status="FAILED", finished_at=timezone.now(), exception_class_path="passgate.jobs.runner.WorkerLost",
        traceback=f"{WORKER_LOST}: the worker process stopped while running this task")


def _notify(execution_ids: Iterable[int]) -> None:
    """Send the notices now (in a worker: a run's own end, the runs it found dead)."""
    from .notifications import mark_pending, notify_execution

    for pk in mark_pending(execution_ids):
        notify_execution(pk)


def _queue_notices(execution_ids: Iterable[int]) -> None:
    """Queue the notices for a worker: the scheduler never talks SMTP (a slow mail server would
    stall every schedule). Marked PENDING first, so JOBS_RETRY_NOTICES finds a lost task's notice."""
    from .notifications import mark_pending
    from .tasks import send_execution_notice

    for pk in mark_pending(execution_ids):
        send_execution_notice.enqueue(pk)


def reap_lost(now: dt.datetime | None = None, organisation: Any = None) -> list[int]:
    """Close the runs whose lease expired (worker dead) and free their schedules; their notices
    are queued for a worker."""
    now = now or timezone.now()
    closed: list[int] = []
    expired = Schedule.objects.filter(lease_token__isnull=False, lease_expires_at__lt=now)
    if organisation is not None:
        expired = expired.filter(organisation=organisation)
    for schedule_id, token in expired.values_list("pk", "lease_token"):
        with transaction.atomic():
            freed = Schedule.objects.filter(pk=schedule_id, lease_token=token, lease_expires_at__lt=now).update(
                lease_token=None, lease_expires_at=None)
            if freed:
                closed += _close_lost(schedule_id)
    for pk in closed:
        logger.warning("execution %s closed as ERROR: %s", pk, WORKER_LOST)
    _queue_notices(closed)
    return closed


# ---------------------------------------------------------------- running

def describe_cause(exc: BaseException, secret: str = "") -> str:
    parts = []
    if isinstance(exc, PassgateError):
        if exc.field:
            parts.append(f"field: {exc.field}")
        if exc.expected is not None:
            parts.append(f"expected: {exc.expected}")
        if exc.found is not None:
            parts.append(f"found: {exc.found}")
    else:
        parts.append("".join(traceback.format_exception(exc)).strip()[-4000:])
    inner = exc.__cause__ or (exc.__context__ if not exc.__suppress_context__ else None)
    while inner is not None:
        parts.append(f"caused by {type(inner).__name__}: {inner}")
        inner = inner.__cause__ or (inner.__context__ if not inner.__suppress_context__ else None)
    text = "\n".join(parts)
    return text.replace(secret, "***") if secret and len(secret) >= 3 else text


def run_schedule(schedule_id: int, *, trigger: str = Trigger.SCHEDULER, date_from: dt.datetime | None = None,
                 worker: str | None = None, lease: float | None = None,
                 progress: Progress | None = None, task_id: str = "") -> Execution:
    """Run one schedule now, in this process. Raises ScheduleBusy if it is running elsewhere."""
    lease = lease or lease_seconds()
    worker = worker or worker_label()
    token = secrets.token_hex(16)
    now = timezone.now()
    with transaction.atomic():
        taken = Schedule.objects.filter(pk=schedule_id).filter(
            Q(lease_token__isnull=True) | Q(lease_expires_at__lt=now)
        ).update(lease_token=token, lease_expires_at=now + dt.timedelta(seconds=lease))
        if not taken:
            if not Schedule.objects.filter(pk=schedule_id).exists():
                raise NotFound("no such schedule", field="schedule", found=schedule_id)
            raise ScheduleBusy("this schedule is running already", field="schedule",
                               expected="no run in progress", found="a run in progress")
        lost = _close_lost(schedule_id)
        schedule = Schedule.objects.select_related("interface", "organisation").get(pk=schedule_id)
        fn_spec = None
        setup_error: PassgateError | None = None
        try:
            type_spec = registry.get_type(schedule.interface.type, "interface.type")
            fn_spec = registry.get_function(schedule.interface.type, schedule.function)
        except PassgateError as exc:
            setup_error = exc
        since = date_from or schedule.date_from
        if since is None and fn_spec is not None and fn_spec.uses_watermark:
            since = watermark(schedule)
        batch = schedule.batch_size or (fn_spec.default_batch_size if fn_spec else None)
        execution = Execution.objects.create(
            organisation=schedule.organisation, schedule=schedule, interface=schedule.interface,
            function=schedule.function, trigger=trigger, started_at=timezone.now(), heartbeat_at=timezone.now(),
            worker=worker[:120], task_id=str(task_id or "")[:64], lease_token=token, since=since,
            date_from_used=bool(date_from or schedule.date_from), simulation=schedule.simulation,
            batch_size=batch)
    _notify(lost)

    ctx: RunContext | None = None
    status, error, cause = ExecutionStatus.OK, "", ""
    try:
        if setup_error is not None:
            raise setup_error
        if not schedule.interface.enabled:
            raise Conflict("the interface is disabled", field="interface.enabled", expected="enabled",
                           found="disabled")
        assert fn_spec is not None
        params = validate(schedule.parameters or {}, fn_spec.params_schema, field="schedule.parameters")
        interface_params = validate(schedule.interface.parameters or {}, type_spec.params_schema,
                                    field="interface.parameters")
        ctx = RunContext(execution, schedule, fn_spec, params, interface_params, token, lease, progress)
        fn_spec.run(ctx)
        ctx.finish_selection()
        status = ExecutionStatus.WARNING if ctx.counts["failed"] else ExecutionStatus.OK
    except LeaseLost:
        logger.error("execution %s lost its lease; another run took over", execution.pk)
        return Execution.objects.get(pk=execution.pk)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the execution
        status = ExecutionStatus.ERROR
        secret = ctx._secret if ctx is not None and ctx._secret else ""
        error = str(exc.message if isinstance(exc, PassgateError) else exc) or type(exc).__name__
        if secret and len(secret) >= 3:
            error = error.replace(secret, "***")
        error = f"{type(exc).__name__}: {error}" if not isinstance(exc, PassgateError) else error
        cause = describe_cause(exc, secret)
        # logged from the redacted text, never from the raw exception (it may quote a secret)
        logger.error("execution %s (%s) failed: %s\n%s", execution.pk, schedule.function, error, cause)
    counts = ctx.counts if ctx else {}
    counted = ", ".join(f"{k} {v}" for k, v in counts.items())
    if status == ExecutionStatus.ERROR:
        summary = f"stopped: {error}"[:500] + (f" ({counted})" if any(counts.values()) else "")
    else:
        summary = ctx.summary if ctx and ctx.summary else counted
    with transaction.atomic():
        # Schedule row first, then the execution: the same lock order as the reaper (no deadlock).
        Schedule.objects.filter(pk=schedule_id, lease_token=token).update(lease_token=None, lease_expires_at=None)
        closed = _close(execution.pk, status, error=error, cause=cause, summary=summary, counts=counts,
                        only_token=token, remaining=ctx.remaining if ctx else None)
    execution = Execution.objects.get(pk=execution.pk)
    if closed:
        _notify([execution.pk])
    return execution
