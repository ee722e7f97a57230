"""`passgate guest issue`: bulk issue through the service, with clear errors."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from passgate.guest.models import GuestTicket


def test_issue_many_with_csv(hotel, tmp_path):
    out = io.StringIO()
    target = tmp_path / "t.csv"
    call_command("guest", "issue", "--organisation", "demo", "--method", "DAY", "--count", "250",
                 "--extra", "room=5", "--csv", str(target), stdout=out, stderr=io.StringIO())
    assert "250 ticket(s) issued" in out.getvalue()
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 250 == GuestTicket.objects.filter(type="INDIVIDUAL").count()
    assert len({r["username"] for r in rows}) == 250
    assert all(set(r["password"]) <= set("abcdefghjkmnpqrstuvwxyz23456789") for r in rows)


def test_issue_errors_are_sentences(hotel):
    with pytest.raises(CommandError, match="extra.room: Room is required"):
        call_command("guest", "issue", "--organisation", "demo", "--method", "DAY", stderr=io.StringIO())
    with pytest.raises(CommandError, match="known: DAY, STAY, EVENT|known: "):
        call_command("guest", "issue", "--organisation", "demo", "--method", "NOPE")
    assert not GuestTicket.objects.exists()
