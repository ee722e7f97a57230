"""Settings refuse unsafe production set-ups; the demo data loads once and
only once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from passgate import demo
from passgate.orgs.models import AuditEntry, Organisation
from passgate.sales.models import Order, Ticket


def start_django(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "passgate.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_the_default_secret_key():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="", PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS="x")
    assert result.returncode != 0
    assert "PASSGATE_SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="true",
                          PASSGATE_FERNET_KEYS="x")
    assert result.returncode != 0
    assert "PASSGATE_DEBUG" in result.stderr


def test_production_starts_with_real_secrets():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS="x")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_bad_database_url_is_named():
    result = start_django(DATABASE_URL="mysql://root@localhost/x")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr and "mysql" in result.stderr


@pytest.mark.django_db
def test_demo_data_loads_once():
    org, created = demo.load()
    assert created
    tickets = Ticket.objects.filter(organisation=org)
    assert tickets.count() == demo.DEMO_TICKETS
    statuses = set(tickets.values_list("status", flat=True))
    assert statuses == {"NOT_PRINTED", "PRINTED", "CANCELLED", "INVALIDATED"}
    assert tickets.filter(reprint_count__gt=0).exists()
    families = set(org and Ticket.objects.values_list("product__family", flat=True).distinct())
    assert families == {"EVENT", "MATCH", "OPEN_PASS", "SERVICE", "MEMBERSHIP", "SEASON_TICKET"}
    counts = (Organisation.objects.count(), Order.objects.count(), Ticket.objects.count(), AuditEntry.objects.count())
    again, created_again = demo.load()
    assert again == org and not created_again
    assert (Organisation.objects.count(), Order.objects.count(), Ticket.objects.count(),
            AuditEntry.objects.count()) == counts
