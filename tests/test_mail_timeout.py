"""A hung SMTP server (accepts the connection, never says hello) must not
stall the process that sends a notice: EMAIL_TIMEOUT makes it give up."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.mail import send_mail
from django.test import override_settings


@pytest.fixture
def hung_smtp_server():
    """A loopback TCP server that accepts connections and never writes a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, silent: the client waits for a greeting that never comes

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_the_default_timeout_is_ten_seconds():
    assert settings.EMAIL_TIMEOUT == 10


def test_send_mail_gives_up_on_a_hung_smtp_server(hung_smtp_server):
    outcome: list[BaseException | int] = []

    def send() -> None:
        try:
            outcome.append(send_mail("run failed", "body", "passgate@localhost", ["ops@example.org"]))
        except BaseException as exc:  # noqa: BLE001 — the test reports whatever came out
            outcome.append(exc)

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=hung_smtp_server, EMAIL_TIMEOUT=0.5, EMAIL_USE_TLS=False):
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(60)  # generous: only "it came back instead of hanging" is asserted
    assert not sender.is_alive(), "send_mail is still waiting for the hung SMTP server"
    # smtplib reports the silent greeting as a disconnection caused by the timeout.
    assert len(outcome) == 1 and isinstance(outcome[0], smtplib.SMTPServerDisconnected), outcome
    assert "timed out" in str(outcome[0])


def test_passgate_email_timeout_reaches_the_smtp_backend(hung_smtp_server):
    # The whole chain from the environment variable: a fresh process with only the variable set.
    code = ("import django; django.setup()\n"
            "from django.core.mail import send_mail\n"
            "try:\n"
            "    send_mail('s', 'b', 'passgate@localhost', ['ops@example.org'])\n"
            "except Exception as exc:\n"
            "    print('gave up' if 'timed out' in str(exc) else repr(exc))\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "passgate.settings", "PASSGATE_ENV": "development",
           "PASSGATE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
           "PASSGATE_EMAIL_HOST": "127.0.0.1", "PASSGATE_EMAIL_PORT": str(hung_smtp_server),
           "PASSGATE_EMAIL_TIMEOUT": "0.5"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "gave up"
