"""Barcode lists for third-party gates (the S-360 access-control API's white
and black lists): JSON pages with an opaque cursor, or CSV with fixed columns.

white: barcode;season_code;product_code;category_code;tariff_code;validity_date
black: barcode;reason;season_code;product_code;blacklist_date

validity_date is the last day the barcode is valid in the organisation's time
zone (performance end, fixed validity end, external valid_until); empty when
the validity is open or starts at first control."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import zoneinfo
from collections.abc import Iterator
from typing import Any

from passgate.errors import InvalidInput
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

from .models import ExternalBarcode, ExternalBarcodeStatus

WHITE_COLUMNS = ["barcode", "season_code", "product_code", "category_code", "tariff_code", "validity_date"]
BLACK_COLUMNS = ["barcode", "reason", "season_code", "product_code", "blacklist_date"]
LIVE = (TicketStatus.NOT_PRINTED, TicketStatus.PRINTED)
MAX_PAGE = 10_000
# Each list is read as a sequence of sources, each by increasing id.
SOURCES = {"white": ("T", "X"), "black": ("T", "R", "X")}


def _cursor(kind: str, source: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"bl1:{kind}:{source}:{last_id}".encode()).decode().rstrip("=")


def _decode(kind: str, cursor: str | None) -> tuple[str, int]:
    if not cursor:
        return SOURCES[kind][0], 0
    try:
        tag, k, source, last = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if tag != "bl1" or k != kind or source not in SOURCES[kind]:
            raise ValueError
        return source, int(last)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("this cursor was not produced by passgate for this list", field="cursor",
                           expected=f"the next_cursor of a previous page of the {kind} list", found=cursor) from None


def _day(value, tz) -> str:
    return value.astimezone(tz).date().isoformat() if value else ""


def _fetch(org, kind: str, source: str, after: int, limit: int, tz) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    if source == "T":
        statuses = LIVE if kind == "white" else (TicketStatus.CANCELLED, TicketStatus.INVALIDATED)
        rows = (Ticket.objects.filter(organisation=org, status__in=statuses, id__gt=after).order_by("id")
                .values_list("id", "barcode", "product__season__code", "product__code", "category__code",
                             "tariff__code", "performance__ends_at", "product__validity", "product__valid_until",
                             "status", "status_changed_at")[:limit])
        for (pk, barcode, season, product, category, tariff, perf_end, validity, valid_until, status,
             changed) in rows:
            if kind == "white":
                end = perf_end or (valid_until if validity == "FIXED" else None)
                out.append((pk, {"barcode": barcode, "season_code": season, "product_code": product,
                                 "category_code": category or "", "tariff_code": tariff,
                                 "validity_date": _day(end, tz)}))
            else:
                out.append((pk, {"barcode": barcode, "reason": status, "season_code": season,
                                 "product_code": product, "blacklist_date": _day(changed, tz)}))
    elif source == "R":
        rows = (RetiredBarcode.objects.filter(organisation=org, id__gt=after).order_by("id")
                .values_list("id", "barcode", "ticket__product__season__code", "ticket__product__code",
                             "retired_at")[:limit])
        out = [(pk, {"barcode": b, "reason": "REPLACED", "season_code": s, "product_code": p,
                     "blacklist_date": _day(at, tz)}) for pk, b, s, p, at in rows]
    else:
        status = ExternalBarcodeStatus.ACTIVE if kind == "white" else ExternalBarcodeStatus.BLOCKED
        rows = (ExternalBarcode.objects.filter(organisation=org, status=status, id__gt=after).order_by("id")
                .values_list("id", "barcode", "season_code", "product_code", "category_code", "tariff__code",
                             "valid_until", "blocked_at", "block_reason")[:limit])
        for pk, barcode, season, product, category, tariff, until, blocked_at, block_reason in rows:
            if kind == "white":
                out.append((pk, {"barcode": barcode, "season_code": season, "product_code": product,
                                 "category_code": category, "tariff_code": tariff or "",
                                 "validity_date": _day(until, tz)}))
            else:
                out.append((pk, {"barcode": barcode, "reason": block_reason or "BLOCKED", "season_code": season,
                                 "product_code": product, "blacklist_date": _day(blocked_at, tz)}))
    return out


def _check(actor: Actor, kind: str) -> None:
    actor.require(Permission.CONTROL_ACCESS)
    if kind not in SOURCES:
        raise InvalidInput("unknown list", field="kind", expected="white or black", found=kind)


def page(actor: Actor, kind: str, cursor: str | None = None, limit: int = 1000) -> dict[str, Any]:
    _check(actor, kind)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("page size out of range", field="limit", expected=f"1 to {MAX_PAGE}", found=limit)
    source, after = _decode(kind, cursor)
    tz = zoneinfo.ZoneInfo(actor.organisation.time_zone)
    items: list[dict[str, Any]] = []
    sources = SOURCES[kind]
    index = sources.index(source)
    while True:
        rows = _fetch(actor.organisation, kind, source, after, limit - len(items), tz)
        items += [r for _, r in rows]
        if rows:
            after = rows[-1][0]
        if len(items) >= limit:
            return {"items": items, "next_cursor": _cursor(kind, source, after)}
        index += 1
        if index >= len(sources):
            return {"items": items, "next_cursor": None}
        source, after = sources[index], 0


def csv_lines(actor: Actor, kind: str) -> Iterator[str]:
    """The whole list as ';'-separated CSV with a header line (streamed)."""
    _check(actor, kind)
    columns = WHITE_COLUMNS if kind == "white" else BLACK_COLUMNS
    tz = zoneinfo.ZoneInfo(actor.organisation.time_zone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(columns)
    for source in SOURCES[kind]:
        after = 0
        while True:
            rows = _fetch(actor.organisation, kind, source, after, 5000, tz)
            for _, row in rows:
                writer.writerow([row[c] for c in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < 5000:
                break
            after = rows[-1][0]
