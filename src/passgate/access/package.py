"""Offline packages: everything a device needs to decide alone for its sector.

First in full (paged by id), then incrementally from an opaque cursor. The
cursor of a full download remembers the change sequence read *before* its first
page, so a change committed while the device pages is either already in the
rows it reads or in the increments after; increments re-read the current state
of each changed barcode, so delivering one twice is harmless, and the change
log's per-organisation sequence (see changes.py) makes skipping one impossible.

Package layout (JSON):
    mode            "full" | "delta" | "reset" (rules changed: drop everything, start again with cursor=None)
    products, performances, rules, keys, connector_rules   small, always sent whole
    columns         names of the columns of `barcodes`
    barcodes        rows valid in the sector (upserts)
    removed         [barcode, reason] rows: the block list (full) or removals (delta)
    next_cursor     where to continue; `complete` = nothing more right now
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from passgate.catalog.models import Performance, Product
from passgate.errors import InvalidInput
from passgate.orgs.models import Organisation
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

from . import cache, signing
from . import connectors as connector_registry
from .changes import current_seq, pruned_through
from .models import (
    AccessChange,
    AccessRule,
    ChangeKind,
    DailyControl,
    ExternalBarcode,
    ExternalBarcodeStatus,
    Sector,
)
from .services.decision import organisation_day
from .services.inputs import _iso as iso

COLUMNS = ["barcode", "product", "performance", "tariff", "category", "seat", "entries", "first_controlled_at",
           "inside", "today", "window"]
FORMAT = 2  # 2: rows carry inside, today's entries and an external barcode's window; header time_zone, day
DEFAULT_LIMIT = 50_000
MAX_LIMIT = 1_000_000
LIVE = (TicketStatus.NOT_PRINTED, TicketStatus.PRINTED)
PHASES = ("T", "X", "R")  # tickets, external barcodes, retired barcodes
WHOLE_SEQ = 2**62  # a delta cursor (seq, WHOLE_SEQ) = every change of `seq` already reflected


# ---------------------------------------------------------------- cursor

def encode_cursor(sector_id: int, mode: str, a: int, b: int = 0, phase: str = "") -> str:
    raw = f"pk1:{sector_id}:{mode}:{phase}:{a}:{b}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sector_id: int) -> tuple[str, str, int, int] | None:
    """(mode, phase, a, b), or None when the cursor belongs to another sector (start again in full)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, sector, mode, phase, a, b = raw.split(":")
        if tag != "pk1" or mode not in ("F", "D") or (mode == "F" and phase not in PHASES):
            raise ValueError
        sector, a, b = int(sector), int(a), int(b)
        if sector != sector_id:
            return None
        return mode, phase, a, b
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("this cursor was not produced by passgate", field="cursor",
                           expected="the next_cursor of a previous package", found=cursor) from None


# ---------------------------------------------------------------- the small, always-whole part

def _rules(sector: Sector) -> list[tuple]:
    return list(AccessRule.objects.filter(sector=sector)
                .values_list("product_id", "performance_id", "tariff_id", "category_id"))


def _rules_q(rules: list[tuple], prefix: str = "") -> Q | None:
    if not rules:
        return None
    q = Q()
    for product_id, perf_id, tariff_id, cat_id in rules:
        part = Q(**{f"{prefix}product_id": product_id})
        if perf_id:
            part &= Q(**{f"{prefix}performance_id": perf_id})
        if tariff_id:
            part &= Q(**{f"{prefix}tariff_id": tariff_id})
        if cat_id:
            part &= Q(**{f"{prefix}category_id": cat_id})
        q |= part
    return q


def _iso(value, organisation_id: int | None = None) -> str | None:
    return iso(value, organisation_id)


def package_day(sector: Sector, now=None):
    """The organisation's calendar day now: the `today` counts of the rows are for this day."""
    return organisation_day(sector.organisation_id, now or timezone.now())


def _header(sector: Sector, rules: list[tuple], day) -> dict[str, Any]:
    product_ids = {r[0] for r in rules}
    products = {
        str(p.pk): {"code": p.code, "name": p.name, "family": p.family, "single_entry": p.single_entry,
                    "validity": p.validity, "valid_from": _iso(p.valid_from, p.organisation_id),
                    "valid_until": _iso(p.valid_until, p.organisation_id),
                    "validity_hours": p.validity_hours, "max_controls": p.max_controls,
                    "max_controls_per_day": p.max_controls_per_day}
        for p in Product.objects.filter(pk__in=product_ids)
    }
    performances = {
        str(p.pk): {"code": p.code, "product": p.product_id,
                    "opens_at": _iso(p.doors_open_at or p.starts_at, p.organisation_id),
                    "starts_at": _iso(p.starts_at, p.organisation_id), "ends_at": _iso(p.ends_at, p.organisation_id)}
        for p in Performance.objects.filter(product_id__in=product_ids)
    }
    connector_rules = []
    served = connector_registry.for_sector(sector)
    if served is not None:
        connector_rules.append({"connector": served[0].name, "rules": served[0].format_rules(sector, served[1])})
    return {
        "format": FORMAT,
        "generated_at": _iso(timezone.now(), sector.organisation_id),
        # Day boundaries of per-day limits are the organisation's; `today` of each row counts `day`.
        "time_zone": cache.row(Organisation, sector.organisation_id).time_zone,
        "day": day.isoformat(),
        "sector": {"code": sector.code, "name": sector.name, "reentry_allowed": sector.reentry_allowed,
                   "connector": served[0].name if served else None},
        "products": products,
        "performances": performances,
        "rules": [list(r) for r in rules],
        "keys": signing.public_keys(sector.organisation_id),
        "connector_rules": connector_rules,
        "columns": COLUMNS,
    }


# ---------------------------------------------------------------- rows

TICKET_VALUES = ("id", "barcode", "product_id", "performance_id", "tariff_id", "category_id", "seat", "control_count",
                 "first_controlled_at", "status", "inside", "today")


def _tickets(day):
    """Tickets with their entries on `day` (per-day limits), as the rows need them."""
    today = DailyControl.objects.filter(ticket_id=OuterRef("pk"), day=day).values("count")[:1]
    return Ticket.objects.annotate(today=Coalesce(Subquery(today), 0))


def _ticket_row(v: tuple) -> list:
    return [v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8].isoformat() if v[8] else None, bool(v[10]), v[11], None]


def _external_row(e: dict) -> list:
    window = [_iso(e["valid_from"]), _iso(e["valid_until"])] if (e["valid_from"] or e["valid_until"]) else None
    return [e["barcode"], e["product_id"], None, e["tariff_id"], None, "", e["control_count"],
            _iso(e["first_controlled_at"]), e["inside"], None, window]  # today: null = no day count


EXTERNAL_VALUES = ("id", "barcode", "product_id", "tariff_id", "control_count", "first_controlled_at", "status",
                   "source", "valid_from", "valid_until", "inside")


def _external_q(sector: Sector, rules: list[tuple]) -> Q | None:
    """External barcodes a sector admits: mapped to an allowed product, or issued by the sector's connector."""
    q = None
    product_ids = [r[0] for r in rules if not r[1] and not r[3]]
    if product_ids:
        q = Q(product_id__in=product_ids)
    served = connector_registry.for_sector(sector)
    if served is not None:
        by_source = Q(source=served[0].name)
        q = by_source if q is None else (q | by_source)
    return q


def build_package(sector: Sector, cursor: str | None = None, limit: int | None = DEFAULT_LIMIT,
                  raw: bool = False, *, now=None) -> dict[str, Any]:
    """One page of the package for a sector. limit=None builds the whole full package at once.
    raw=True (PostgreSQL): the database renders the ticket rows as JSON text — serialise the
    result with `dumps()`, not json.dumps (the fast path for large sectors)."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("page size out of range", field="limit", expected=f"1 to {MAX_LIMIT}", found=limit)
    decoded = decode_cursor(cursor, sector.pk) if cursor else None
    if decoded is None:
        # Read the sequence BEFORE any row: later changes are then replayed by the increments.
        decoded = ("F", "T", 0, current_seq(sector.organisation_id))
    mode, phase, a, b = decoded
    rules = _rules(sector)
    day = package_day(sector, now)
    package = _header(sector, rules, day)
    if mode == "F":
        package.update(_full_page(sector, rules, phase, a, b, limit, raw, day))
    else:
        package.update(_delta_page(sector, rules, a, b, limit, day))
    return package


def _full_page(sector: Sector, rules, phase: str, after_id: int, start_seq: int, limit: int | None,
               raw: bool = False, day=None) -> dict:
    org_id = sector.organisation_id
    barcodes: list[list] = []
    removed: list[list] = []
    budget = limit
    rules_q = _rules_q(rules)
    while True:
        if phase == "T" and raw and connection.vendor == "postgresql":
            rows = []
            count, last = 0, after_id
            if rules_q is not None:
                live_json, dead_json, count, last = _ticket_json(org_id, rules_q, after_id, budget, day)
                last = last or after_id
                barcodes.append(RawJSON(live_json))
                removed.append(RawJSON(dead_json))
            rows = range(count)  # only its length matters below
        elif phase == "T":
            rows: list = []
            if rules_q is not None:
                qs = (_tickets(day).filter(organisation_id=org_id, id__gt=after_id).filter(rules_q)
                      .order_by("id").values_list(*TICKET_VALUES))
                rows = list(qs[:budget] if budget is not None else qs.iterator(chunk_size=20_000))
            for v in rows:
                if v[9] in LIVE:
                    barcodes.append(_ticket_row(v))
                else:
                    removed.append([v[1], v[9]])
            last = rows[-1][0] if rows else after_id
        elif phase == "X":
            ext_q = _external_q(sector, rules)
            rows = []
            if ext_q is not None:
                qs = (ExternalBarcode.objects.filter(organisation_id=org_id, id__gt=after_id).filter(ext_q)
                      .order_by("id").values(*EXTERNAL_VALUES))
                rows = list(qs[:budget] if budget is not None else qs)
            for e in rows:
                if e["status"] == ExternalBarcodeStatus.ACTIVE:
                    barcodes.append(_external_row(e))
                else:
                    removed.append([e["barcode"], "BLOCKED"])
            last = rows[-1]["id"] if rows else after_id
        else:
            rows = []
            if rules_q is not None:
                qs = (RetiredBarcode.objects.filter(organisation_id=org_id, id__gt=after_id)
                      .filter(_rules_q(rules, "ticket__")).order_by("id").values_list("id", "barcode"))
                rows = list(qs[:budget] if budget is not None else qs)
            removed.extend([b, "REPLACED"] for _, b in rows)
            last = rows[-1][0] if rows else after_id
        if budget is not None and len(rows) >= budget:
            return {"mode": "full", "barcodes": barcodes, "removed": removed, "complete": False,
                    "next_cursor": encode_cursor(sector.pk, "F", last, start_seq, phase)}
        if budget is not None:
            budget -= len(rows)
        if phase == "R":
            # Complete only if nothing changed since the download began; otherwise the
            # device goes on with the increments at once.
            pending = AccessChange.objects.filter(organisation_id=org_id, seq__gt=start_seq).exists()
            return {"mode": "full", "barcodes": barcodes, "removed": removed, "complete": not pending,
                    "next_cursor": encode_cursor(sector.pk, "D", start_seq, WHOLE_SEQ)}
        phase = PHASES[PHASES.index(phase) + 1]
        after_id = 0
        if budget == 0:
            return {"mode": "full", "barcodes": barcodes, "removed": removed, "complete": False,
                    "next_cursor": encode_cursor(sector.pk, "F", 0, start_seq, phase)}


def _ticket_json(org_id: int, rules_q: Q, after_id: int, limit: int | None, day) -> tuple[str, str, int, int | None]:
    """PostgreSQL renders one page of ticket rows: (live rows JSON, [barcode, status] JSON, count, last id)."""
    qs = (Ticket.objects.filter(organisation_id=org_id, id__gt=after_id).filter(rules_q)
          .values_list("id", "barcode", "product_id", "performance_id", "tariff_id", "category_id", "seat",
                       "control_count", "first_controlled_at", "status", "inside"))
    qs = qs.order_by("id")[:limit] if limit is not None else qs.order_by()
    inner, params = qs.query.sql_with_params()
    live = "('NOT_PRINTED', 'PRINTED')"
    order = " ORDER BY t.id" if limit is not None else ""
    sql = (
        "SELECT COALESCE(json_agg(json_build_array(t.barcode, t.product_id, t.performance_id, t.tariff_id, "
        "t.category_id, t.seat, t.control_count, t.first_controlled_at, t.inside, COALESCE(dc.count, 0), NULL)"
        f"{order}) FILTER (WHERE t.status IN {live}), '[]')::text, "
        f"COALESCE(json_agg(json_build_array(t.barcode, t.status){order}) FILTER (WHERE t.status NOT IN {live}), "
        "'[]')::text, count(*), max(t.id) "
        f'FROM ({inner}) t LEFT JOIN "{DailyControl._meta.db_table}" dc ON dc.ticket_id = t.id AND dc.day = %s')
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, day))
        return cursor.fetchone()


class RawJSON(str):
    """A JSON array of rows already rendered by the database."""


def dumps(package: dict[str, Any]) -> bytes:
    """Serialise a package. Rows rendered by the database go in as orjson Fragments (JSON values,
    not text spliced into text), so no product name or barcode can break the document."""
    out = {}
    for key, value in package.items():
        if isinstance(value, list) and any(isinstance(v, RawJSON) for v in value):
            plain = [v for v in value if not isinstance(v, RawJSON)]
            parts = [orjson.dumps(plain)[1:-1]] if plain else []
            parts += [v.encode()[1:-1] for v in value if isinstance(v, RawJSON) and len(v) > 2]
            out[key] = orjson.Fragment(b"[" + b",".join(parts) + b"]")
        else:
            out[key] = value
    return orjson.dumps(out)


def _delta_page(sector: Sector, rules, after_seq: int, after_id: int, limit: int | None, day=None) -> dict:
    org_id = sector.organisation_id
    if after_seq < pruned_through(org_id):
        # The changes after this cursor were pruned from the log: start again in full.
        return {"mode": "reset", "barcodes": [], "removed": [], "complete": False, "next_cursor": None}
    limit = limit or MAX_LIMIT
    changes = list(AccessChange.objects.filter(organisation_id=org_id)
                   .filter(Q(seq__gt=after_seq) | Q(seq=after_seq, id__gt=after_id))
                   .order_by("seq", "id").values_list("seq", "id", "kind", "ref_id", "barcode")[:limit])
    for _seq, _id, kind, ref_id, _barcode in changes:
        if kind == ChangeKind.RESET and ref_id in (None, sector.pk):
            # The sector's rules changed: the device drops its data and starts again in full.
            return {"mode": "reset", "barcodes": [], "removed": [], "complete": False, "next_cursor": None}
    if changes:
        next_cursor = encode_cursor(sector.pk, "D", changes[-1][0], changes[-1][1])
    else:
        next_cursor = encode_cursor(sector.pk, "D", after_seq, after_id)
    ticket_ids = {c[3] for c in changes if c[2] == ChangeKind.TICKET}
    external_ids = {c[3] for c in changes if c[2] == ChangeKind.EXTERNAL}
    retired = [c[4] for c in changes if c[2] == ChangeKind.RETIRED]
    barcodes: list[list] = []
    removed: list[list] = []
    seen: set[str] = set()
    if ticket_ids:
        in_sector = set()
        rules_q = _rules_q(rules)
        if rules_q is not None:
            in_sector = set(Ticket.objects.filter(pk__in=ticket_ids).filter(rules_q).values_list("id", flat=True))
        for v in _tickets(day).filter(pk__in=ticket_ids, organisation_id=org_id).values_list(*TICKET_VALUES):
            seen.add(v[1])
            if v[0] in in_sector and v[9] in LIVE:
                barcodes.append(_ticket_row(v))
            else:
                removed.append([v[1], v[9] if v[9] not in LIVE else "NOT_IN_SECTOR"])
    if external_ids:
        ext_q = _external_q(sector, rules)
        admitted = set()
        if ext_q is not None:
            admitted = set(ExternalBarcode.objects.filter(pk__in=external_ids).filter(ext_q)
                           .values_list("id", flat=True))
        for e in ExternalBarcode.objects.filter(pk__in=external_ids, organisation_id=org_id).values(
                *EXTERNAL_VALUES):
            seen.add(e["barcode"])
            if e["id"] in admitted and e["status"] == ExternalBarcodeStatus.ACTIVE:
                barcodes.append(_external_row(e))
            else:
                removed.append([e["barcode"], "BLOCKED" if e["status"] != ExternalBarcodeStatus.ACTIVE
                                else "NOT_IN_SECTOR"])
    removed.extend([b, "REPLACED"] for b in retired if b not in seen)
    return {"mode": "delta", "barcodes": barcodes, "removed": removed, "complete": len(changes) < limit,
            "next_cursor": next_cursor}
