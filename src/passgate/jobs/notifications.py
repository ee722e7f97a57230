"""Failure e-mails: when a run ends ERROR (and WARNING if the interface asks),
the interface's addresses receive the summary, the error with its cause and a
link to the execution in the back office. Sent through Django's mail framework
(settings.EMAIL_*); a mail failure is logged, never breaks the run."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from passgate.orgs.timezones import format_local

from .models import Execution, ExecutionStatus

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


def notify_execution(execution_id: int) -> bool:
    execution = Execution.objects.select_related("interface", "organisation", "schedule").get(pk=execution_id)
    recipients = execution.interface.notify_list
    if not recipients or execution.notified_at or not should_notify(execution):
        return False
    # claim the notification so a concurrent reaper does not send it twice
    if not Execution.objects.filter(pk=execution.pk, notified_at__isnull=True).update(notified_at=timezone.now()):
        return False
    subject, body = message_for(execution)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception:  # noqa: BLE001
        logger.exception("could not e-mail the failure of execution %s", execution.pk)
        Execution.objects.filter(pk=execution.pk).update(notified_at=None)
        return False
    return True
