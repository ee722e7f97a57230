"""Limits, steward messages and the checks every access input goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from passgate.errors import InvalidInput
from passgate.sales.models import TicketStatus

from ..models import (
    Direction,
    Reason,
)

LIVE_STATUSES = (TicketStatus.NOT_PRINTED, TicketStatus.PRINTED)


DEVICE_TOKEN_PREFIX = "pgd_"


ENROLMENT_TTL = dt.timedelta(days=7)


LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)


MAX_BARCODE = 200


MAX_NONCE = 100


MAX_BATCH = 1000


# A device clock this far from the server's is not trusted for an online decision.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


MESSAGES = {
    "": "Welcome",
    Reason.UNKNOWN_BARCODE: "Unknown barcode: not a ticket of this organisation",
    Reason.CANCELLED: "Ticket cancelled",
    Reason.INVALIDATED: "Ticket invalidated",
    Reason.WRONG_SECTOR: "Not valid at this entrance",
    Reason.NOT_YET_VALID: "Not yet valid",
    Reason.EXPIRED: "No longer valid",
    Reason.ALREADY_CONTROLLED: "Already used",
    Reason.MAX_CONTROLS_REACHED: "All entries of this pass are used",
    Reason.DAILY_LIMIT_REACHED: "All entries of today are used",
    Reason.NOT_INSIDE: "Exit recorded (the ticket was not marked inside)",
    Reason.BLOCKED: "Card blocked",
    Reason.PARTNER_REFUSED: "Refused by the partner",
    Reason.PARTNER_UNAVAILABLE: "Partner unreachable: cannot check this card",
    Reason.PARTNER_ERROR: "This card could not be checked (the partner's connector failed): call a supervisor",
}


def hash_secret(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def clean_barcode(barcode: Any, field: str = "barcode") -> str:
    if not isinstance(barcode, str):
        raise InvalidInput("the barcode must be text", field=field, expected="text", found=barcode)
    value = barcode.strip()
    if not value:
        raise InvalidInput("the barcode is empty", field=field, expected="the barcode as read", found=barcode)
    if not value.isprintable():
        raise InvalidInput("the barcode contains control characters", field=field,
                           expected="printable characters", found=repr(value)[:100])
    if len(value) > MAX_BARCODE:
        raise InvalidInput("the barcode is too long", field=field, expected=f"at most {MAX_BARCODE} characters",
                           found=f"{len(value)} characters")
    return value


def clean_nonce(nonce: Any, field: str = "nonce") -> str:
    if not isinstance(nonce, str) or not nonce.strip() or len(nonce) > MAX_NONCE or not nonce.isprintable():
        raise InvalidInput("every scan needs a nonce, unique per device", field=field,
                           expected=f"1 to {MAX_NONCE} characters (e.g. a UUID)", found=nonce)
    return nonce.strip()


def clean_direction(direction: Any, field: str = "direction") -> str:
    value = (direction or Direction.ENTRY)
    value = value.upper() if isinstance(value, str) else value
    if value not in Direction.values:
        raise InvalidInput("unknown direction", field=field, expected="ENTRY or EXIT", found=direction)
    return value


def clean_time(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("not a date and time", field=field, expected="ISO 8601 with a time zone",
                               found=value) from None
    if not isinstance(value, dt.datetime):
        raise InvalidInput("not a date and time", field=field, expected="ISO 8601 with a time zone", found=value)
    if value.tzinfo is None:
        raise InvalidInput("the time zone is missing", field=field,
                           expected="ISO 8601 with a time zone, e.g. 2026-05-01T19:30:00Z", found=value.isoformat())
    return value
