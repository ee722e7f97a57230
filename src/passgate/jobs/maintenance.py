"""The built-in maintenance functions of the jobs room, on the SYSTEM interface type: each
organisation gets a schedule of each (services.ensure_builtin_schedules)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from .models import Execution, NoticeStatus
from .registry import FunctionSpec, register_function
from .runner import ItemRecord, RunContext, reap_lost

# A notice PENDING or SENDING this long was lost (task dropped, worker killed mid-send): retried.
STALE_NOTICE = dt.timedelta(minutes=10)


def reap_lost_runs(ctx: RunContext) -> None:
    """Close this organisation's runs whose worker died (the scheduler's tick does it too)."""
    closed = reap_lost(organisation=ctx.organisation)
    ctx.select(len(closed))
    ctx.record(ItemRecord("DONE", object_ref=f"execution {pk}", message="closed: worker lost") for pk in closed)
    ctx.summary = f"{len(closed)} lost runs closed"


def retry_notices(ctx: RunContext) -> None:
    """Send again the failure notices that could not be sent (mail server down), a bounded number
    of times; and those whose sending task was lost."""
    from .notifications import max_attempts, notify_execution

    stale = timezone.now() - STALE_NOTICE
    due = (Execution.objects.filter(organisation=ctx.organisation, notice_attempts__lt=max_attempts())
           .filter(Q(notice_status=NoticeStatus.FAILED)
                   | Q(notice_status__in=[NoticeStatus.PENDING, NoticeStatus.SENDING], ended_at__lt=stale))
           .order_by("id").values_list("pk", flat=True))
    ids = list(due[: ctx.batch_size] if ctx.batch_size else due)
    ctx.select(len(ids))
    for pk in ids:
        # a SENDING left by a dead sender is put back to FAILED so that it can be claimed again
        Execution.objects.filter(pk=pk, notice_status=NoticeStatus.SENDING).update(notice_status=NoticeStatus.FAILED)
        sent = notify_execution(pk)
        error = "" if sent else Execution.objects.filter(pk=pk).values_list("notice_error", flat=True).get()
        ctx.record([ItemRecord("DONE" if sent else "FAILED", object_ref=f"execution {pk}",
                               message=error)])
    ctx.summary = f"{ctx.counts['done']} notices sent, {ctx.counts['failed']} failed again"


def register(system_type: str) -> None:
    register_function(system_type, FunctionSpec(
        name="JOBS_REAP_LOST", label="Close runs whose worker died", run=reap_lost_runs, builtin=True,
        default_batch_size=None, max_batch_size=None, supports_simulation=False, default_frequency_minutes=5,
        description="Closes as ERROR the runs whose lease expired (worker killed or lost) and queues their "
                    "notices; the scheduler does it at each pass too."))
    register_function(system_type, FunctionSpec(
        name="JOBS_RETRY_NOTICES", label="Retry failure e-mails", run=retry_notices, builtin=True,
        default_batch_size=100, max_batch_size=1000, supports_simulation=False, default_frequency_minutes=5,
        description="Sends again the failure e-mails that could not be sent, up to JOBS_NOTICE_MAX_ATTEMPTS "
                    "attempts each."))
