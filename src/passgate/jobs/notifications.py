"""Failure e-mails: when a run ends ERROR (and WARNING if the interface asks),
the interface's addresses receive the summary, the error with its cause and a
link to the execution in the back office. Sent through Django's mail framework
(settings.EMAIL_*); a mail failure is logged, never breaks the run.

The outcome is recorded on the execution (notice_status SENT / FAILED with the
error and the attempt count). The scheduler never sends: it queues a task
(send_execution_notice) that a worker runs; FAILED notices are retried by the
built-in JOBS_RETRY_NOTICES function, up to JOBS_NOTICE_MAX_ATTEMPTS."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from passgate.orgs.timezones import format_local

from .models import Execution, ExecutionStatus, NoticeStatus

logger = logging.getLogger("passgate.jobs")


def execution_url(execution: Execution) -> str:
    return settings.BASE_URL + reverse("admin:jobs_execution_change", args=[execution.pk])


def message_for(execution: Execution) -> tuple[str, str]:
    interface = execution.interface
    subject = (f"[passgate] {interface.name}: {execution.function} ended {execution.status}"
               + (f" — {execution.error.splitlines()[0][:120]}" if execution.error else ""))
    lines = [
        f"Organisation: {execution.organisation.name} ({execution.organisation.code})",
        f"Interface:    {interface.name} (type {interface.type})",
        f"Function:     {execution.function}",
        f"Schedule:     {execution.schedule or '(deleted)'}",
        f"Status:       {execution.status}",
        f"Started:      {format_local(execution.organisation, execution.started_at)}",
        f"Ended:        {format_local(execution.organisation, execution.ended_at) or '-'}",
        f"Counts:       selected {execution.selected}, done {execution.done}, failed {execution.failed}, "
        f"skipped {execution.skipped}",
        "",
        f"Summary: {execution.summary or '-'}",
    ]
    if execution.error:
        lines += ["", f"Error: {execution.error}"]
    if execution.error_cause:
        lines += ["", "Cause:", execution.error_cause]
    lines += ["", f"Details: {execution_url(execution)}", ""]
    return subject, "\n".join(lines)


def should_notify(execution: Execution) -> bool:
    if execution.status == ExecutionStatus.ERROR:
        return True
    return execution.status == ExecutionStatus.WARNING and execution.interface.notify_on_warning


def max_attempts() -> int:
    return int(getattr(settings, "JOBS_NOTICE_MAX_ATTEMPTS", 5))


def notice_due(execution: Execution) -> bool:
    return bool(execution.interface.notify_list) and should_notify(execution)


def mark_pending(execution_ids) -> list[int]:
    """The executions among these that need a notice, marked PENDING (once); returns them."""
    due = [e.pk for e in Execution.objects.filter(pk__in=list(execution_ids), notice_status="")
           .select_related("interface") if notice_due(e)]
    if due:
        Execution.objects.filter(pk__in=due, notice_status="").update(notice_status=NoticeStatus.PENDING)
    return due


def notify_execution(execution_id: int) -> bool:
    """Send the notice of this execution if it needs one and nobody sent it; records the outcome."""
    execution = Execution.objects.select_related("interface", "organisation", "schedule").get(pk=execution_id)
    if not notice_due(execution) or execution.notice_status in (NoticeStatus.SENT, NoticeStatus.SENDING):
        return False
    if execution.notice_attempts >= max_attempts():
        return False
    # claim it (conditional update): a concurrent sender or retry does not send it twice
    claimed = Execution.objects.filter(pk=execution.pk, notice_status=execution.notice_status,
                                       notice_attempts=execution.notice_attempts).update(
        notice_status=NoticeStatus.SENDING, notice_attempts=execution.notice_attempts + 1)
    if not claimed:
        return False
    subject, body = message_for(execution)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, execution.interface.notify_list, fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - recorded, retried by JOBS_RETRY_NOTICES
        logger.warning("could not e-mail the failure of execution %s: %s", execution.pk, exc)
        Execution.objects.filter(pk=execution.pk).update(
            notice_status=NoticeStatus.FAILED, notice_error=f"{type(exc).__name__}: {exc}"[:300])
        return False
    Execution.objects.filter(pk=execution.pk).update(notice_status=NoticeStatus.SENT, notified_at=timezone.now(),
                                                     notice_error="")
    return True
