"""The demo works today: a performance on now, and the lines it prints (door token, scan line,
integrator token) work when pasted, the same on every run."""

from __future__ import annotations

import datetime as dt
import io
import re
import shlex

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from passgate import cli, demo
from passgate.catalog.models import Performance

pytestmark = pytest.mark.django_db


def load_demo() -> str:
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


def paste(line: str, capsys) -> tuple[int, str]:
    """Run a printed `passgate …` line as a shell would (in-process, on the test database)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(shlex.split(line))
        raise SystemExit(0)
    return exc.value.code or 0, capsys.readouterr().out


def test_the_printed_scan_line_answers_granted_then_already_controlled(monkeypatch, capsys):
    monkeypatch.setattr(demo, "DEMO_TICKETS", 40)  # the scene on now does not need the whole crowd
    monkeypatch.setattr(connections, "close_all", lambda: None)  # commands close connections at exit
    output = load_demo()
    (scan_line,) = re.findall(r"(passgate scan --device-token \S+ \S+)", output)
    code, answer = paste(scan_line, capsys)
    assert (code, answer.split()[0]) == (0, "GRANTED"), answer
    code, answer = paste(scan_line, capsys)
    assert code == 1 and answer.startswith("DENIED ALREADY_CONTROLLED"), answer

    api_token = re.search(r"API token:\s+(pg_\S+)", output).group(1)
    me = Client(HTTP_AUTHORIZATION=f"Bearer {api_token}").get("/api/v1/me")
    assert me.status_code == 200 and "demo" in me.content.decode()

    # a later run (the show is over): the performance is on now again, the tokens are the same,
    # and the new scan line (an unscanned ticket) answers GRANTED
    perf = Performance.objects.get(code=demo.NOW_CODE)
    Performance.objects.filter(pk=perf.pk).update(starts_at=timezone.now() - dt.timedelta(days=1),
                                                  doors_open_at=timezone.now() - dt.timedelta(days=1, hours=1),
                                                  ends_at=timezone.now() - dt.timedelta(hours=21))
    again = load_demo()
    perf.refresh_from_db()
    assert perf.doors_open_at < timezone.now() < perf.ends_at and perf.starts_at < timezone.now()
    assert re.search(r"token: (pgd_\S+)", again).group(1) == re.search(r"token: (pgd_\S+)", output).group(1)
    assert re.search(r"API token:\s+(pg_\S+)", again).group(1) == api_token
    (next_line,) = re.findall(r"(passgate scan --device-token \S+ \S+)", again)
    assert next_line != scan_line
    assert paste(next_line, capsys)[0] == 0
    assert Performance.objects.filter(code=demo.NOW_CODE).count() == 1
