"""The guest ticket's rules, pure: the status machine and the authorize decision. Services feed
them facts read from the database; tests feed them anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .counters import DeviceCounter, QuotaCounter, Refusal, StatusCounter, TicketFacts, TimeCounter

NO_USE, IN_USE, EXPIRED, CANCELLED = "NO_USE", "IN_USE", "EXPIRED", "CANCELLED"
FINAL = frozenset({EXPIRED, CANCELLED})

# event → {from status: to status}; anything missing is refused.
TRANSITIONS: dict[str, dict[str, str]] = {
    "FIRST_LOGIN": {NO_USE: IN_USE},
    "EXPIRE": {NO_USE: EXPIRED, IN_USE: EXPIRED},
    "CANCEL": {NO_USE: CANCELLED, IN_USE: CANCELLED},
}


def next_status(status: str, event: str) -> str | None:
    """The status after `event`, or None when the event does not apply (a final status never moves)."""
    return TRANSITIONS[event].get(status)


@dataclass(frozen=True)
class Grant:
    session_timeout: int | None
    bytes_left: int | None


COUNTERS = (StatusCounter(), TimeCounter(), QuotaCounter(), DeviceCounter())


def decide(facts: TicketFacts, now: dt.datetime) -> Grant:
    """Accept with the seconds and bytes left, or raise Refusal."""
    seconds, octets = None, None
    for counter in COUNTERS:
        value = counter.check(facts, now)
        if isinstance(counter, TimeCounter):
            seconds = value
        elif isinstance(counter, QuotaCounter):
            octets = value
    return Grant(session_timeout=seconds, bytes_left=octets)


def octets(value: int | None, gigawords: int | None) -> int:
    """An RFC 2869 counter: Acct-*-Octets wraps at 2**32, Acct-*-Gigawords counts the wraps."""
    return (gigawords or 0) * 2**32 + (value or 0)


__all__ = ["Grant", "Refusal", "TicketFacts", "decide", "next_status", "octets"]
