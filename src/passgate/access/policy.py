"""The entry policy: one pure function, fed the same facts online and offline.

No database, no Django: plain data in, (decision, reason) out. The online scan
(`services.decision`) reads the facts from the database and admits with a
compare-and-set on what it read; the offline device (`offline.OfflineDevice`)
reads them from its package and its own history. Device makers can port this
module as it is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

GRANTED = "GRANTED"
DENIED = "DENIED"
ENTRY = "ENTRY"
EXIT = "EXIT"

# Ticket statuses (NOT_PRINTED, PRINTED) and external-barcode status ACTIVE may enter.
LIVE = frozenset({"NOT_PRINTED", "PRINTED", "ACTIVE"})
# A status that is not live, as the reason of the denial ("REPLACED" = the barcode of a reprint).
DEAD = {"CANCELLED": "CANCELLED", "INVALIDATED": "INVALIDATED", "REPLACED": "INVALIDATED", "BLOCKED": "BLOCKED"}

FIXED = "FIXED"
FROM_FIRST_CONTROL = "FROM_FIRST_CONTROL"

Window = tuple[dt.datetime | None, dt.datetime | None]  # (from, until), either end open


@dataclass(frozen=True)
class ProductFacts:
    single_entry: bool
    max_controls: int | None = None
    max_controls_per_day: int | None = None
    validity: str = ""  # NONE, FIXED (valid_from/valid_until) or FROM_FIRST_CONTROL (validity_hours)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    validity_hours: int | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the decision depends on, at the instant `now`."""

    now: dt.datetime
    direction: str
    status: str  # ticket status, or ACTIVE/BLOCKED for an external barcode
    rules_admit: bool  # one of the sector's rules admits this product/performance/tariff/category
    product: ProductFacts | None
    performance: Window | None = None  # (doors open or start, end) when the ticket is for a performance
    reentry_allowed: bool = False  # the sector's rule for single-entry tickets that went out
    control_count: int = 0
    inside: bool = False
    first_controlled_at: dt.datetime | None = None
    controls_today: int = 0  # granted entries on `now`'s day in the organisation's time zone
    external: Window | None = None  # an external barcode's own validity
    signed: Window | None = None  # the window carried by a signed barcode


def _outside(window: Window, now: dt.datetime) -> str:
    start, end = window
    if start is not None and now < start:
        return "NOT_YET_VALID"
    if end is not None and now > end:
        return "EXPIRED"
    return ""


def validity_reason(product: ProductFacts, performance: Window | None, first_controlled_at: dt.datetime | None,
                    now: dt.datetime) -> str:
    """NOT_YET_VALID / EXPIRED / '' : a performance's window, else the product's validity."""
    if performance is not None:
        return _outside(performance, now)
    if product.validity == FIXED:
        return _outside((product.valid_from, product.valid_until), now)
    if product.validity == FROM_FIRST_CONTROL and first_controlled_at is not None and product.validity_hours:
        return _outside((None, first_controlled_at + dt.timedelta(hours=product.validity_hours)), now)
    return ""


def decide(f: Facts) -> tuple[str, str]:
    """(GRANTED | DENIED, reason code or '')."""
    if f.direction == EXIT:
        # Exits are always let through; NOT_INSIDE only tells the steward the ticket was not in.
        return GRANTED, "" if f.inside else "NOT_INSIDE"
    if f.status not in LIVE:
        return DENIED, DEAD.get(f.status, "INVALIDATED")
    if f.product is None or not f.rules_admit:
        return DENIED, "WRONG_SECTOR"
    for window in (f.external, f.signed):
        if window is not None and (reason := _outside(window, f.now)):
            return DENIED, reason
    reason = validity_reason(f.product, f.performance, f.first_controlled_at, f.now)
    if reason:
        return DENIED, reason
    product = f.product
    if product.single_entry:
        if f.control_count == 0 or (f.reentry_allowed and not f.inside):
            return GRANTED, ""
        return DENIED, "ALREADY_CONTROLLED"
    if product.max_controls and f.control_count >= product.max_controls:
        return DENIED, "MAX_CONTROLS_REACHED"
    if product.max_controls_per_day and f.controls_today >= product.max_controls_per_day:
        return DENIED, "DAILY_LIMIT_REACHED"
    return GRANTED, ""


def day_limited(product: ProductFacts | None) -> bool:
    """Whether today's count is a fact of the decision (it must then be counted and compared)."""
    return product is not None and not product.single_entry and bool(product.max_controls_per_day)
