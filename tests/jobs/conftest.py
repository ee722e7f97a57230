"""Fixtures of the jobs tests: an ECHO interface pointing at a real echo
sandbox on loopback, a schedule of its ECHO_TICKETS function."""

from __future__ import annotations

import pytest
from django.test import override_settings

from passgate.jobs import services

ECHO_KEY = "echo-key-s3cr3t-value"


@pytest.fixture(autouse=True)
def _fast_jobs():
    with override_settings(JOBS_LEASE_SECONDS=30, JOBS_BUSY_RETRY_SECONDS=1,
                           EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


@pytest.fixture
def echo(echo_sandbox):
    echo_sandbox.seed(api_key=ECHO_KEY)
    return echo_sandbox


@pytest.fixture
def echo_interface(admin_actor, echo):
    return services.create_interface(admin_actor, type="ECHO", name="Echo partner", url=echo.url + "/",
                                     username="demo", secret=ECHO_KEY, notify_emails="ops@example.org")


@pytest.fixture
def echo_schedule(admin_actor, echo_interface):
    return services.create_schedule(admin_actor, interface=echo_interface, function="ECHO_TICKETS",
                                    parameters_text='{"chunk_size": 2}')
