"""Hypothesis over clocks, first logins and accounting sequences, each checked against an oracle
written here, apart from the code: seconds left never pass the expiry, bytes left never go
negative, and a ticket never leaves CANCELLED or EXPIRED."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.errors import Conflict
from passgate.guest import rules, services
from passgate.guest.counters import Refusal, TicketFacts
from passgate.guest.models import GuestStatus, GuestTicket, RadiusSession

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
seconds = st.integers(min_value=0, max_value=90 * 86400)
DB_SETTINGS = settings(max_examples=15, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@given(issue_offset=seconds, first_login=st.none() | seconds, duration=st.integers(1, 30 * 86400),
       now_offset=seconds, quota=st.none() | st.integers(1, 2**40), used=st.integers(0, 2**41),
       devices=st.integers(1, 5), others=st.integers(0, 6))
def test_decide_never_grants_past_expiry_or_quota(issue_offset, first_login, duration, now_offset, quota, used,
                                                  devices, others):
    issued = T0 + dt.timedelta(seconds=issue_offset)
    now = T0 + dt.timedelta(seconds=now_offset)
    logged = None if first_login is None else issued + dt.timedelta(seconds=first_login)
    expires = None if logged is None else logged + dt.timedelta(seconds=duration)
    facts = TicketFacts(status="IN_USE" if logged else "NO_USE", valid_from=None, expires_at=expires,
                        duration=dt.timedelta(seconds=duration), quota_bytes=quota, bytes_used=used, devices=devices,
                        other_devices=others)
    # the oracle
    end = expires if expires is not None else now + dt.timedelta(seconds=duration)
    time_left = (end - now).total_seconds()
    should_refuse = (time_left < 1 or (quota is not None and used >= quota) or others >= devices)
    try:
        grant = rules.decide(facts, now)
    except Refusal:
        assert should_refuse
        return
    assert not should_refuse
    assert 0 < grant.session_timeout <= time_left
    assert now + dt.timedelta(seconds=grant.session_timeout) <= end
    if quota is None:
        assert grant.bytes_left is None
    else:
        assert grant.bytes_left == quota - used and grant.bytes_left > 0


def oracle_status(events: list[str]) -> list[str]:
    """The statuses after each event, from the issue's words: NO_USE → IN_USE at first login →
    EXPIRED, or CANCELLED; nothing leaves CANCELLED or EXPIRED."""
    status, seen = "NO_USE", []
    for event in events:
        if status not in ("CANCELLED", "EXPIRED"):
            if event == "CANCEL":
                status = "CANCELLED"
            elif event == "EXPIRE":
                status = "EXPIRED"
            elif event == "FIRST_LOGIN" and status == "NO_USE":
                status = "IN_USE"
        seen.append(status)
    return seen


@given(st.lists(st.sampled_from(["FIRST_LOGIN", "EXPIRE", "CANCEL"]), max_size=12))
def test_next_status_agrees_with_the_oracle(events):
    status, seen = "NO_USE", []
    for event in events:
        status = rules.next_status(status, event) or status
        seen.append(status)
    assert seen == oracle_status(events)


EVENTS = st.lists(st.sampled_from(["login", "cancel", "expire_sweep", "wait"]), max_size=8)


@DB_SETTINGS
@given(events=EVENTS, waits=st.lists(st.sampled_from([0, 3600, 23 * 3600, 25 * 3600]), min_size=8, max_size=8))
def test_status_machine_never_leaves_cancelled_or_expired(hotel, events, waits):
    ticket = hotel.issue()[0]  # 24 h from first login
    clock = ticket.created_at
    oracle = "NO_USE"
    first_login = None
    for event, wait in zip(events, waits, strict=False):
        if event == "wait":
            clock += dt.timedelta(seconds=wait)
        elif event == "login":
            services.mark_first_login(hotel.actor.organisation.pk, ticket.username, now=clock)
            if oracle == "NO_USE":
                oracle, first_login = "IN_USE", clock
        elif event == "cancel":
            try:
                services.cancel_ticket(hotel.actor, ticket, now=clock)
                assert oracle in ("NO_USE", "IN_USE")
                oracle = "CANCELLED"
            except Conflict:
                assert oracle in ("CANCELLED", "EXPIRED")
        else:
            services.expire_tickets(hotel.actor.organisation, now=clock)
            if oracle == "IN_USE" and clock >= first_login + dt.timedelta(hours=24):
                oracle = "EXPIRED"
        ticket.refresh_from_db()
        assert ticket.status == oracle


MACS = ["m1", "m2", "m3"]


@DB_SETTINGS
@given(steps=st.lists(st.tuples(st.sampled_from(["Start", "Interim-Update", "Stop"]), st.integers(0, 2),
                                st.integers(0, 2**32 - 1), st.integers(0, 3)), max_size=12))
def test_accounting_sequences_keep_bytes_left_non_negative(hotel, steps):
    org = hotel.actor.organisation
    ticket = hotel.issue()[0]  # 10 GiB quota, 2 devices
    uid_prefix = f"t{ticket.pk}-"
    oracle: dict[int, dict] = {}  # session → {"open": bool, "bytes": int}
    counters = itertools.count(1)
    for kind, n, octets, gigawords in steps:
        total = gigawords * 2**32 + octets
        services.account(hotel.nas, services.AccountingRecord(
            status_type=kind, unique_id=f"{uid_prefix}{n}", username=ticket.username, calling_station=MACS[n],
            input_octets=total, session_time=next(counters)), now=T0)
        seen = oracle.get(n)
        if seen is None:
            oracle[n] = {"open": kind != "Stop", "bytes": total}
        elif seen["open"] and kind != "Start":
            seen["bytes"] = total
            seen["open"] = kind != "Stop"
        # else: a duplicate Start or anything after the Stop changes nothing
    used = sum(s["bytes"] for s in oracle.values())
    stored = {int(s.unique_id.rsplit("-", 1)[1]): (s.stopped_at is None, s.input_octets)
              for s in RadiusSession.objects.filter(ticket=ticket)}
    assert stored == {n: (s["open"], s["bytes"]) for n, s in oracle.items()}
    try:
        accept = services.authorize(hotel.nas, ticket.username, "m9", now=T0)
    except Refusal as refusal:
        assert refusal.code in ("QUOTA_USED", "DEVICE_LIMIT")
        assert used >= ticket.quota_bytes or sum(s["open"] for s in oracle.values()) >= 2
        return
    assert accept.bytes_left == ticket.quota_bytes - used > 0
    assert GuestTicket.objects.get(pk=ticket.pk).status in (GuestStatus.NO_USE, GuestStatus.IN_USE)
    assert org.pk == ticket.organisation_id
