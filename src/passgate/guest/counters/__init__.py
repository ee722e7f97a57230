"""Each limit of a guest ticket is a small class with one check(): it refuses with a Refusal, or
returns what it lets through (seconds or bytes left). The authorize rule runs them in order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class Refusal(Exception):
    """A refusal the guest reads on the login page: a stable code and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TicketFacts:
    """What the rules need to know of a ticket, read in one query."""

    status: str
    valid_from: dt.datetime | None
    expires_at: dt.datetime | None
    duration: dt.timedelta | None
    quota_bytes: int | None
    bytes_used: int
    devices: int
    # Devices other than the one asking with a live (not stale) session: a device reconnecting is
    # already counted, so it is never counted against itself.
    other_devices: int = 0


class Counter:
    def check(self, facts: TicketFacts, now: dt.datetime) -> int | None:
        raise NotImplementedError


class StatusCounter(Counter):
    def check(self, facts, now):
        if facts.status == "CANCELLED":
            raise Refusal("CANCELLED", "This WiFi ticket has been cancelled. Please ask at the desk for a new one.")
        if facts.status == "EXPIRED":
            raise Refusal("EXPIRED", "This WiFi ticket has expired. Please ask at the desk for a new one.")
        return None


def effective_expiry(facts: TicketFacts, now: dt.datetime) -> dt.datetime | None:
    """The expiry, or for a ticket whose duration starts at first login and has not started: now + duration."""
    if facts.expires_at is not None:
        return facts.expires_at
    if facts.duration is not None:
        return now + facts.duration
    return None


class TimeCounter(Counter):
    """Seconds left until expiry: the Session-Timeout."""

    def check(self, facts, now):
        if facts.valid_from is not None and now < facts.valid_from:
            raise Refusal("NOT_YET_VALID", "This WiFi ticket is not valid yet.")
        expiry = effective_expiry(facts, now)
        if expiry is None:
            return None
        left = int((expiry - now).total_seconds())
        if left <= 0:
            raise Refusal("EXPIRED", "This WiFi ticket has expired. Please ask at the desk for a new one.")
        return left


class QuotaCounter(Counter):
    """Bytes left of the data quota: ChilliSpot-Max-Total-Octets."""

    def check(self, facts, now):
        if facts.quota_bytes is None:
            return None
        left = facts.quota_bytes - facts.bytes_used
        if left <= 0:
            raise Refusal("QUOTA_USED", "The data allowance of this WiFi ticket is used up.")
        return left


class DeviceCounter(Counter):
    """Simultaneous devices: a number. The N+1th device is refused."""

    def check(self, facts, now):
        if facts.other_devices >= facts.devices:
            raise Refusal("DEVICE_LIMIT", f"This WiFi ticket is already in use on {facts.devices} "
                                          f"device{'s' if facts.devices != 1 else ''}, its limit. Disconnect one "
                                          "of them first.")
        return None
