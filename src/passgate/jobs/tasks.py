"""Background tasks (Django's task API, django-tasks-db backend)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from .models import Trigger
from .runner import ScheduleBusy, run_schedule

logger = logging.getLogger("passgate.jobs")


def busy_retry_seconds() -> float:
    return float(getattr(settings, "JOBS_BUSY_RETRY_SECONDS", 5))


@task(takes_context=True)
def run_schedule_task(context, schedule_id: int, trigger: str = Trigger.SCHEDULER,
                      date_from: str | None = None) -> dict:
    """Run one schedule. If it is running elsewhere, the run is not dropped: it
    is queued again a few seconds later, so no due run is skipped."""
    since = dt.datetime.fromisoformat(date_from) if date_from else None
    try:
        execution = run_schedule(schedule_id, trigger=trigger, date_from=since,
                                 task_id=str(context.task_result.id))
    except ScheduleBusy:
        run_after = timezone.now() + dt.timedelta(seconds=busy_retry_seconds())
        run_schedule_task.using(run_after=run_after).enqueue(schedule_id, trigger, date_from)
        logger.info("schedule %s is running elsewhere; run deferred to %s", schedule_id, run_after)
        return {"schedule": schedule_id, "deferred_to": run_after.isoformat()}
    return {"schedule": schedule_id, "execution": execution.pk, "status": execution.status}


@task()
def send_execution_notice(execution_id: int) -> bool:
    """Send the failure notice of one execution (queued by the scheduler, which never sends mail)."""
    from .notifications import notify_execution

    return notify_execution(execution_id)
