"""Failure e-mails go through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import time

from passgate.jobs import services
from passgate.jobs.runner import run_schedule
from sandboxes.framework import free_port
from tests.mail_sink import wait_for


def test_a_failing_run_sends_an_email_naming_interface_function_and_cause(smtp, echo, admin_actor, echo_interface,
                                                                          echo_schedule, catalogue):
    catalogue.sell_concert(1)
    services.update_interface(admin_actor, echo_interface, secret="revoked-key-42",
                              notify_emails="ops@example.org, support@example.org")
    execution = run_schedule(echo_schedule.pk)
    assert execution.status == "ERROR"
    wait_for(smtp)
    assert len(smtp.messages) == 1
    sender, recipients, message = smtp.messages[0]
    assert sorted(recipients) == ["ops@example.org", "support@example.org"]
    body = message.get_content()
    assert "Echo partner" in message["Subject"] and "ECHO_TICKETS" in message["Subject"]
    assert "ERROR" in message["Subject"]
    assert "Interface:    Echo partner" in body and "Function:     ECHO_TICKETS" in body
    assert "refused the credentials" in body and "field: secret" in body  # the cause
    assert f"https://backoffice.example/admin/jobs/execution/{execution.pk}/change/" in body
    assert "revoked-key-42" not in body
    execution.refresh_from_db()
    assert execution.notified_at is not None


def test_warnings_are_mailed_only_when_the_interface_asks(smtp, echo, admin_actor, echo_interface, echo_schedule,
                                                          catalogue):
    t1, t2 = catalogue.sell_concert(2).tickets.all()
    echo.faults(partial={"ids": [t1.pk]})
    assert run_schedule(echo_schedule.pk).status == "WARNING"
    time.sleep(0.2)
    assert smtp.messages == []
    services.update_interface(admin_actor, echo_interface, notify_on_warning=True)
    assert run_schedule(echo_schedule.pk).status == "WARNING"  # t1 is retried and refused again
    wait_for(smtp)
    assert len(smtp.messages) == 1 and "WARNING" in smtp.messages[0][2]["Subject"]


def test_a_mail_server_that_is_down_does_not_break_the_run(settings, echo, admin_actor, echo_interface,
                                                           echo_schedule):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    services.update_interface(admin_actor, echo_interface, secret="bad-key-77")
    execution = run_schedule(echo_schedule.pk)
    assert execution.status == "ERROR"
    execution.refresh_from_db()
    assert execution.notified_at is None  # may be retried later
