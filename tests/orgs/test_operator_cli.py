"""Operator commands: tokens, organisations and users from the shell; `passgate --help`."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from passgate import cli
from passgate.orgs.models import ApiToken, Membership

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


def test_token_create_on_a_fresh_database_works_on_me():
    run("org", "create", "--code", "theatre", "--name", "Théâtre", "--time-zone", "Europe/Zurich")
    token = run("token", "create", "--org", "theatre", "--role", "BOX_OFFICE", "--name", "web shop").strip()
    assert token.startswith("pg_")
    r = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/me")
    assert r.status_code == 200, r.content
    assert "theatre" in r.content.decode() and "BOX_OFFICE" in r.content.decode()
    stored = ApiToken.objects.get()
    assert token not in (stored.token_hash, stored.prefix)  # shown once, never stored

    listing = run("token", "list", "--org", "theatre")
    assert stored.prefix in listing and "web shop" in listing and "active" in listing
    assert token not in listing
    run("token", "revoke", "--org", "theatre", stored.prefix)
    assert "revoked" in run("token", "list", "--org", "theatre")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/me").status_code == 401


def test_token_refusals_are_usage_errors(org):
    with pytest.raises(CommandError) as exc:
        run("token", "create", "--org", "nowhere", "--role", "BOX_OFFICE", "--name", "x")
    assert exc.value.returncode == 2 and "demo" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        run("token", "revoke", "--org", org.code, "pg_unknown")
    assert exc.value.returncode == 2


@pytest.fixture
def keep_connection(monkeypatch):
    """`passgate …` run in-process: Django closes the connections after a command, which would
    close the test's database."""
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)


def test_token_with_a_bad_role_exits_2(org, capsys, keep_connection):
    with pytest.raises(SystemExit) as exc:
        cli.main(["passgate", "token", "create", "--org", org.code, "--role", "BOSS", "--name", "x"])
    assert exc.value.code == 2
    assert "BOX_OFFICE" in capsys.readouterr().err  # the roles it expected
    assert not ApiToken.objects.exists()


def test_user_add_reads_the_password_from_the_environment(org, monkeypatch):
    monkeypatch.setenv("NEW_PW", "correct horse battery staple")
    out = run("user", "add", "clerk", "--org", org.code, "--role", "BOX_OFFICE", "--password-env", "NEW_PW")
    assert "correct horse" not in out
    user = get_user_model().objects.get(username="clerk")
    assert user.check_password("correct horse battery staple") and user.is_staff
    assert Membership.objects.get(user=user).role == "BOX_OFFICE"
    monkeypatch.setenv("NEW_PW", "")
    with pytest.raises(CommandError):
        run("user", "add", "other", "--org", org.code, "--role", "BOX_OFFICE", "--password-env", "NEW_PW")
    assert not get_user_model().objects.filter(username="other").exists()


def test_user_add_prompts_without_echo(org, monkeypatch):
    answers = iter(["s3cret-Password-1", "s3cret-Password-1"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("user", "add", "steward", "--org", org.code, "--role", "ACCESS_CONTROL")
    assert get_user_model().objects.get(username="steward").check_password("s3cret-Password-1")


def test_help_lists_passgate_commands_first_by_their_typed_names(capsys):
    cli.main(["passgate", "--help"])
    text = capsys.readouterr().out
    ours, _, django_part = text.partition("Django commands")
    for name in ("door-sim", "demo-data", "run-schedule", "token", "user", "org", "scan"):
        assert f"\n  {name} " in ours
    assert "\n  door_sim" not in text and " migrate " in django_part and "\n  migrate " not in ours
    assert all(len(line) <= 120 for line in ours.splitlines())
