"""The scheduler: enqueues due schedules. Safe to run on many machines at once:
a schedule is enqueued by whoever moves its next_run_at forward with a
conditional UPDATE (WHERE next_run_at = the value it read), in the same
transaction as the task row, so a due run is enqueued exactly once and never
lost. It also closes the runs of dead workers (expired leases) — queuing their
notices for a worker, never sending mail itself — and gives a new organisation
its built-in (maintenance) schedules."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time

from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Schedule, Trigger
from .runner import reap_lost
from .services import ensure_all_builtin_schedules

logger = logging.getLogger("passgate.jobs")


def next_after(due: dt.datetime, minutes: int, now: dt.datetime) -> dt.datetime:
    """The first due time after `now` on the schedule's grid (no catch-up storm after downtime)."""
    step = dt.timedelta(minutes=max(1, minutes))
    nxt = due + step
    if nxt <= now:
        nxt += step * ((now - nxt) // step + 1)
    return nxt


def tick(now: dt.datetime | None = None) -> list[int]:
    """One pass: reap lost runs, enqueue due schedules. Returns the enqueued schedule ids."""
    from .tasks import run_schedule_task

    now = now or timezone.now()
    reap_lost(now)
    try:
        ensure_all_builtin_schedules()  # one query when every organisation has them
    except Exception:  # noqa: BLE001 - never let it stop the enqueueing of due runs
        logger.exception("could not create the built-in schedules")
    enqueued = []
    due = (Schedule.objects.filter(enabled=True, interface__enabled=True, next_run_at__lte=now)
           # a schedule running now stays due: it is enqueued once its run is over
           .filter(Q(lease_token__isnull=True) | Q(lease_expires_at__lt=now))
           .values_list("pk", "next_run_at", "frequency_minutes"))
    for pk, next_run_at, minutes in due:
        with transaction.atomic():
            moved = Schedule.objects.filter(pk=pk, next_run_at=next_run_at).update(
                next_run_at=next_after(next_run_at, minutes, now))
            if not moved:
                continue  # another scheduler got it
            run_schedule_task.enqueue(pk, Trigger.SCHEDULER, None)
        enqueued.append(pk)
        logger.info("schedule %s enqueued (due %s)", pk, next_run_at.isoformat())
    return enqueued


def loop(interval: float = 5.0, max_ticks: int | None = None, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def on_signal(signum, frame):
        logger.info("scheduler: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    ticks = 0
    while not stop.is_set():
        close_old_connections()
        try:
            tick()
        except Exception:  # noqa: BLE001 - a bad pass must not stop the scheduler
            logger.exception("scheduler pass failed")
        ticks += 1
        if max_ticks is not None and ticks >= max_ticks:
            break
        stop.wait(interval)
    close_old_connections()
    time.sleep(0)
