"""Limits, steward messages and the checks every access input goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from typing import Any

from passgate.errors import InvalidInput, WrongShape, shown
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


_ZONES: dict[str, zoneinfo.ZoneInfo] = {}


def zone_of(organisation: Any) -> zoneinfo.ZoneInfo | None:
    """The time zone of an organisation (row or id), or None (then times stay as they are)."""
    if organisation is None:
        return None
    if isinstance(organisation, int):
        from passgate.orgs.models import Organisation

        from .. import cache
        organisation = cache.row(Organisation, organisation)
    name = organisation.time_zone
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = zoneinfo.ZoneInfo(name)
    return zone


def _iso(value: dt.datetime | None, organisation: Any = None) -> str | None:
    """Every time the access API shows: ISO 8601 with the offset of the organisation's zone, to the
    second (organisation = a row or an id; without it, the value's own offset)."""
    if not value:
        return None
    zone = zone_of(organisation)
    if zone is not None:
        value = value.astimezone(zone)
    return value.replace(microsecond=0).isoformat()


def in_words(value: dt.datetime, organisation: Any, now: dt.datetime | None = None) -> str:
    """A time for the steward, in the organisation's zone: "today at 19:02", "on 2026-05-01 at 19:02"."""
    zone = zone_of(organisation)
    local = value.astimezone(zone) if zone is not None else value
    today = (now or dt.datetime.now(dt.UTC)).astimezone(local.tzinfo).date()
    if local.date() == today:
        return f"today at {local:%H:%M}"
    return f"on {local:%Y-%m-%d} at {local:%H:%M}"


def clean_barcode(barcode: Any, field: str = "barcode") -> str:
    if not isinstance(barcode, str):
        raise WrongShape("the barcode must be text", field=field, expected="text", found=shown(barcode))
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
    if nonce is not None and not isinstance(nonce, str):
        raise WrongShape("the nonce must be text", field=field, expected="text (e.g. a UUID)", found=shown(nonce))
    if not isinstance(nonce, str) or not nonce.strip() or len(nonce) > MAX_NONCE or not nonce.isprintable():
        raise InvalidInput("every scan needs a nonce, unique per device", field=field,
                           expected=f"1 to {MAX_NONCE} characters (e.g. a UUID)", found=nonce)
    return nonce.strip()


def clean_direction(direction: Any, field: str = "direction") -> str:
    value = (direction or Direction.ENTRY)
    value = value.upper() if isinstance(value, str) else value
    if value not in Direction.values:
        raise WrongShape("unknown direction", field=field, expected="ENTRY or EXIT", found=shown(direction))
    return value


def clean_time(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("not a date and time", field=field, expected="ISO 8601 with a time zone",
                               found=value) from None
    if not isinstance(value, dt.datetime):
        raise WrongShape("not a date and time", field=field, expected="ISO 8601 with a time zone",
                         found=shown(value))
    if value.tzinfo is None:
        raise InvalidInput("the time zone is missing", field=field,
                           expected="ISO 8601 with a time zone, e.g. 2026-05-01T19:30:00Z", found=value.isoformat())
    return value
