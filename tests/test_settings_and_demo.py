"""Settings refuse unsafe production set-ups; the demo data loads once and
only once."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum

from passgate import demo
from passgate.orgs.models import AuditEntry, Organisation
from passgate.sales.models import Order, RetiredBarcode, Ticket
from passgate.settings import database_from_url

REAL_KEY = Fernet.generate_key().decode()


def start_django(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "passgate.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_the_default_secret_key():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="", PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS=REAL_KEY)
    assert result.returncode == 1
    assert "PASSGATE_SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="true",
                          PASSGATE_FERNET_KEYS=REAL_KEY)
    assert result.returncode == 1
    assert "PASSGATE_DEBUG" in result.stderr


def test_production_starts_with_real_secrets():
    # Two keys: the newest first, the previous one still decrypting until rotated.
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS=f"{REAL_KEY}, {Fernet.generate_key().decode()}")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def urlsafe(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


# (the variable's value, the bad key's position, what the refusal says was found)
BAD_KEYS = {
    "short": ("x", "key 1 of 1", "1 characters that do not decode as base64"),
    "31 bytes": (urlsafe(b"\x01" * 31), "key 1 of 1", "found 31 bytes once decoded"),
    "33 bytes": (urlsafe(b"\x01" * 33), "key 1 of 1", "found 33 bytes once decoded"),
    # A real key with stray characters: lenient base64 would skip them and decode 32 bytes.
    "garbage": (REAL_KEY[:20] + "*!*" + REAL_KEY[20:], "key 1 of 1", "47 characters that are not url-safe"),
    "second of two": (f"{REAL_KEY},{REAL_KEY[:-2]}", "key 2 of 2", "do not decode as base64"),
}


@pytest.mark.parametrize("case", BAD_KEYS)
def test_production_refuses_a_fernet_key_fernet_cannot_use(case):
    keys, position, found = BAD_KEYS[case]
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS=keys)
    assert result.returncode == 1
    refusal = result.stderr.strip().splitlines()[-1]
    assert f"PASSGATE_FERNET_KEYS: {position} is not usable" in refusal
    assert "expected a Fernet key: 32 bytes in url-safe base64" in refusal
    assert found in refusal
    for key in keys.split(","):
        if len(key) > 8:  # "x" appears in any traceback; a real-looking key must not
            assert key not in result.stderr  # never echo a secret, even a broken one


def test_production_refuses_no_fernet_key():
    result = start_django(PASSGATE_ENV="production", PASSGATE_SECRET_KEY="k" * 50, PASSGATE_DEBUG="false",
                          PASSGATE_FERNET_KEYS=" , ")
    assert result.returncode == 1
    assert "PASSGATE_FERNET_KEYS: production mode needs at least one Fernet key" in result.stderr


def test_development_starts_without_fernet_keys():
    # The embedded mode starts without keys (one is derived from the secret key).
    result = start_django(PASSGATE_ENV="development", PASSGATE_FERNET_KEYS="")
    assert result.returncode == 0, result.stderr


def test_a_bad_partner_allowed_network_is_named():
    result = start_django(PASSGATE_PARTNER_ALLOWED_NETWORKS="10.0.0.0/8, 10.0.0/33")
    assert result.returncode == 1
    assert ("PASSGATE_PARTNER_ALLOWED_NETWORKS: entry 2 is not a network: expected a CIDR such as 10.20.0.0/16 "
            "or fd00::/8, found '10.0.0/33'") in result.stderr


def test_partner_allowed_networks_reach_the_settings():
    code = "import django; django.setup(); from django.conf import settings; print(settings.PARTNER_ALLOWED_NETWORKS)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "passgate.settings",
                                 "PASSGATE_PARTNER_ALLOWED_NETWORKS": " 10.20.0.0/16 , fd00::/8 "})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['10.20.0.0/16', 'fd00::/8']"


def test_bad_database_url_is_named():
    result = start_django(DATABASE_URL="mysql://root@localhost/x")
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr and "mysql" in result.stderr


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "sqlite:///tmp/x.sqlite3", "redis://h/0"])
def test_database_url_other_than_postgres_is_refused_by_scheme(url):
    with pytest.raises(ImproperlyConfigured) as refused:
        database_from_url(url)
    scheme = url.split(":")[0]
    assert str(refused.value) == (
        f"DATABASE_URL: expected a postgres://user@host:port/name URL, found scheme {scheme!r}")


def test_database_url_parts_reach_the_django_settings(monkeypatch):
    monkeypatch.setenv("PASSGATE_DB_CONN_MAX_AGE", "17")
    database = database_from_url(
        "postgresql://pass%40gate:p%3Aw%2Fd@db.example.org:6543/tickets?server_side_binding=true&sslmode=require")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["USER"], database["PASSWORD"]) == ("pass@gate", "p:w/d")
    assert (database["HOST"], int(database["PORT"]), database["NAME"]) == ("db.example.org", 6543, "tickets")
    assert database["OPTIONS"] == {"server_side_binding": True, "sslmode": "require"}
    assert database["CONN_MAX_AGE"] == 17
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["TEST"] == {"NAME": "test_tickets"}


def test_database_url_without_options_or_port():
    database = database_from_url("postgres://postgres@127.0.0.1/passgate")
    assert (database["USER"], database["PASSWORD"], database["HOST"], database["PORT"], database["NAME"]) == (
        "postgres", "", "127.0.0.1", "", "passgate")
    assert database["OPTIONS"] == {}


def test_database_url_without_a_name_is_refused():
    with pytest.raises(ImproperlyConfigured) as refused:
        database_from_url("postgres://postgres@127.0.0.1:5432/")
    assert "database name" in str(refused.value)


@pytest.mark.django_db
def test_demo_data_loads_once():
    org, created = demo.load()
    assert created
    tickets = Ticket.objects.filter(organisation=org)
    assert tickets.exclude(performance__code=demo.NOW_CODE).count() == demo.DEMO_TICKETS
    assert tickets.filter(performance__code=demo.NOW_CODE, status="PRINTED").count() == demo.NOW_TICKETS
    statuses = set(tickets.values_list("status", flat=True))
    assert statuses == {"NOT_PRINTED", "PRINTED", "CANCELLED", "INVALIDATED"}
    # Every reprint retired exactly one barcode, and the demo does reprint some tickets.
    reprints = tickets.aggregate(total=Sum("reprint_count"))["total"]
    assert reprints == RetiredBarcode.objects.filter(organisation=org, reason="REPRINT").count() and reprints > 0
    families = set(org and Ticket.objects.values_list("product__family", flat=True).distinct())
    assert families == {"EVENT", "MATCH", "OPEN_PASS", "SERVICE", "MEMBERSHIP", "SEASON_TICKET"}
    counts = (Organisation.objects.count(), Order.objects.count(), Ticket.objects.count(), AuditEntry.objects.count())
    again, created_again = demo.load()
    assert again == org and not created_again
    assert (Organisation.objects.count(), Order.objects.count(), Ticket.objects.count(),
            AuditEntry.objects.count()) == counts
