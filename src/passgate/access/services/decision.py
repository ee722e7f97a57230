"""The online decision for a barcode: ticket lookup, entry policy, the conditional admit."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from passgate.catalog.models import Category, Performance, Product, Tariff, Validity
from passgate.orgs.models import Organisation
from passgate.sales.models import Ticket, TicketStatus

from .. import cache
from ..models import (
    DailyControl,
    Decision,
    Direction,
    ExternalBarcode,
    ExternalBarcodeStatus,
    Reason,
    Scan,
    Sector,
)
from .inputs import _iso
from .recording import Outcome, _insert_parts, _Recorded, _scan_values, ticket_view

HOT_TICKET_FIELDS = ("id", "organisation_id", "order_id", "status", "product_id", "performance_id", "tariff_id",
                     "category_id", "seat", "control_count", "first_controlled_at", "inside", "cultural_contact_id")


def _ticket_sql() -> str:
    t = Ticket._meta.db_table
    cols = ", ".join(f't."{Ticket._meta.get_field(f.removesuffix("_id") if f.endswith("_id") else f).column}"'
                     for f in HOT_TICKET_FIELDS)
    return (f'SELECT {cols}, COALESCE(cc.first_name, b.first_name, \'\'), COALESCE(cc.last_name, b.last_name, \'\') '
            f'FROM "{t}" t LEFT JOIN sales_contact cc ON cc.id = t.cultural_contact_id '
            f'LEFT JOIN sales_order o ON o.id = t.order_id LEFT JOIN sales_contact b ON b.id = o.buyer_id '
            f'WHERE t.organisation_id = %s AND t.barcode = %s')


_TICKET_SQL: list[str] = []


def find_ticket(organisation_id: int, barcode: str) -> Ticket | None:
    """The ticket of a barcode for a decision: one indexed query (with the holder's name);
    its catalogue rows come from the per-process cache."""
    if not _TICKET_SQL:
        _TICKET_SQL.append(_ticket_sql())
    with connection.cursor() as cursor:
        cursor.execute(_TICKET_SQL[0], [organisation_id, barcode])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(HOT_TICKET_FIELDS)
    values = dict(zip(HOT_TICKET_FIELDS, row[:n], strict=False))
    if isinstance(values["first_controlled_at"], str) or (
            values["first_controlled_at"] is not None and values["first_controlled_at"].tzinfo is None):
        values["first_controlled_at"] = Ticket._meta.get_field("first_controlled_at").to_python(
            values["first_controlled_at"])
        if timezone.is_naive(values["first_controlled_at"]):
            values["first_controlled_at"] = timezone.make_aware(values["first_controlled_at"], dt.UTC)
    values["inside"] = bool(values["inside"])
    ticket = Ticket(barcode=barcode, **values)
    ticket._state.adding = False
    ticket.product = cache.row(Product, ticket.product_id)
    ticket.performance = cache.row(Performance, ticket.performance_id)
    ticket.tariff = cache.row(Tariff, ticket.tariff_id)
    ticket.category = cache.row(Category, ticket.category_id)
    ticket._holder = f"{row[n]} {row[n + 1]}".strip()
    return ticket


def window_reason(product, performance, first_controlled_at, at: dt.datetime) -> str:
    """NOT_YET_VALID / EXPIRED / '' at a given time."""
    if performance is not None:
        if at < (performance.doors_open_at or performance.starts_at):
            return Reason.NOT_YET_VALID
        if at > performance.ends_at:
            return Reason.EXPIRED
        return ""
    if product.validity == Validity.FIXED:
        if product.valid_from and at < product.valid_from:
            return Reason.NOT_YET_VALID
        if product.valid_until and at > product.valid_until:
            return Reason.EXPIRED
    elif product.validity == Validity.FROM_FIRST_CONTROL and first_controlled_at and product.validity_hours:
        if at > first_controlled_at + dt.timedelta(hours=product.validity_hours):
            return Reason.EXPIRED
    return ""


def sector_rules(sector_id: int) -> list[tuple[int, int | None, int | None, int | None]]:
    return cache.rules(sector_id)


def rules_match(rules, product_id, performance_id, tariff_id, category_id) -> bool:
    for r_product, r_perf, r_tariff, r_cat in rules:
        if (r_product == product_id and (r_perf is None or r_perf == performance_id)
                and (r_tariff is None or r_tariff == tariff_id) and (r_cat is None or r_cat == category_id)):
            return True
    return False


def _last_entry(ticket_id: int) -> dict[str, Any] | None:
    scan = (Scan.objects.filter(ticket_id=ticket_id, decision=Decision.GRANTED, direction=Direction.ENTRY)
            .select_related("door").order_by("-scanned_at", "-id").first())
    if scan is None:
        return None
    return {"at": _iso(scan.scanned_at), "door": scan.door.code if scan.door_id else scan.gate or None,
            "scan_id": scan.pk}


def _decide_ticket(ticket: Ticket, sector: Sector, direction: str, now: dt.datetime,
                   pending: dict[str, Any] | None = None) -> Outcome:
    """pending = what the scan row needs (device, barcode, nonce, times): on PostgreSQL a grant
    is then admitted and recorded in one statement (fewer round trips on the hot path)."""
    product = ticket.product
    if direction == Direction.EXIT:
        updated = Ticket.objects.filter(pk=ticket.pk, inside=True).update(inside=False)
        return Outcome(Decision.GRANTED, "" if updated else Reason.NOT_INSIDE, ticket=ticket)
    if ticket.status == TicketStatus.CANCELLED:
        return Outcome(Decision.DENIED, Reason.CANCELLED, ticket=ticket)
    if ticket.status == TicketStatus.INVALIDATED:
        return Outcome(Decision.DENIED, Reason.INVALIDATED, ticket=ticket)
    if not rules_match(sector_rules(sector.pk), ticket.product_id, ticket.performance_id, ticket.tariff_id,
                       ticket.category_id):
        return Outcome(Decision.DENIED, Reason.WRONG_SECTOR, ticket=ticket)
    reason = window_reason(product, ticket.performance, ticket.first_controlled_at, now)
    if reason:
        return Outcome(Decision.DENIED, reason, ticket=ticket)

    # The entry policy is in the WHERE clause of one UPDATE (race-free): see _admit.
    day_limited = (not product.single_entry) and product.max_controls_per_day
    if day_limited:
        day = organisation_day(ticket.organisation_id, now)
        DailyControl.objects.bulk_create([DailyControl(ticket_id=ticket.pk, day=day, count=0)],
                                         ignore_conflicts=True)
        if not DailyControl.objects.filter(ticket_id=ticket.pk, day=day,
                                           count__lt=product.max_controls_per_day).update(count=F("count") + 1):
            return Outcome(Decision.DENIED, Reason.DAILY_LIMIT_REACHED, ticket=ticket)
    if pending is not None and not day_limited and connection.vendor == "postgresql":
        outcome = Outcome(Decision.GRANTED, ticket=ticket, info=ticket_view(ticket, ticket.control_count + 1))
        values = _scan_values(outcome=outcome, now=now, **pending)
        recorded = _admit(ticket.pk, product, sector, now, record=values)
        if recorded is not None:
            outcome.recorded = recorded
            return outcome
        outcome.operation = ""
    elif _admit(ticket.pk, product, sector, now):
        return Outcome(Decision.GRANTED, ticket=ticket, info=ticket_view(ticket, ticket.control_count + 1))

    # Lost the race or already used: read what the winner wrote.
    if day_limited:
        DailyControl.objects.filter(ticket_id=ticket.pk, day=day, count__gt=0).update(count=F("count") - 1)
    current = Ticket.objects.filter(pk=ticket.pk).values(
        "status", "control_count", "first_controlled_at", "inside").first()
    ticket.control_count = current["control_count"]
    if current["status"] == TicketStatus.CANCELLED:
        return Outcome(Decision.DENIED, Reason.CANCELLED, ticket=ticket)
    if current["status"] == TicketStatus.INVALIDATED:
        return Outcome(Decision.DENIED, Reason.INVALIDATED, ticket=ticket)
    if product.single_entry:
        return Outcome(Decision.DENIED, Reason.ALREADY_CONTROLLED, ticket=ticket, previous=_last_entry(ticket.pk))
    if product.max_controls and current["control_count"] >= product.max_controls:
        return Outcome(Decision.DENIED, Reason.MAX_CONTROLS_REACHED, ticket=ticket, previous=_last_entry(ticket.pk))
    return Outcome(Decision.DENIED, Reason.EXPIRED, ticket=ticket)


def organisation_day(organisation_id: int, at: dt.datetime) -> dt.date:
    """The calendar day in the organisation's time zone (per-day entry limits)."""
    org = cache.row(Organisation, organisation_id)
    return at.astimezone(zoneinfo.ZoneInfo(org.time_zone)).date()


def _admit(ticket_id: int, product, sector: Sector, now: dt.datetime, record: dict[str, Any] | None = None):
    """The conditional UPDATE that admits a ticket: the entry policy is in its WHERE clause,
    so of two doors racing on one ticket only one can match. Returns rows updated (0 or 1);
    with `record` (PostgreSQL), the scan row is inserted by the same statement when the update
    matched: returns the recorded scan, or None."""
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    table = Ticket._meta.db_table
    where = ["id = %s", "status IN (%s, %s)"]
    params: list[Any] = [at, at, True, ticket_id, TicketStatus.NOT_PRINTED, TicketStatus.PRINTED]
    if product.single_entry:
        if sector.reentry_allowed:
            where.append("(control_count = 0 OR inside = %s)")
            params.append(False)
        else:
            where.append("control_count = 0")
    else:
        if product.max_controls:
            where.append("control_count < %s")
            params.append(product.max_controls)
        if product.validity == Validity.FROM_FIRST_CONTROL and product.validity_hours:
            where.append("(first_controlled_at IS NULL OR first_controlled_at >= %s)")
            params.append(ops.adapt_datetimefield_value(now - dt.timedelta(hours=product.validity_hours)))
    sql = (f'UPDATE "{table}" SET control_count = control_count + 1, '
           f'first_controlled_at = COALESCE(first_controlled_at, %s), last_controlled_at = %s, inside = %s '
           f'WHERE {" AND ".join(where)}')
    if record is not None:
        insert_cols, marks, insert_params = _insert_parts(record)
        sql = (f"WITH admitted AS ({sql} RETURNING id) "
               f'INSERT INTO "{Scan._meta.db_table}" ({insert_cols}) SELECT {marks} FROM admitted RETURNING "id"')
        with connection.cursor() as cursor:
            cursor.execute(sql, params + insert_params)
            row = cursor.fetchone()
        return _Recorded(row[0], record["response"]) if row else None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _decide_external(ext: ExternalBarcode, sector: Sector, direction: str, now: dt.datetime) -> Outcome:
    if direction == Direction.EXIT:
        updated = ExternalBarcode.objects.filter(pk=ext.pk, inside=True).update(inside=False)
        return Outcome(Decision.GRANTED, "" if updated else Reason.NOT_INSIDE, external=ext)
    if ext.status == ExternalBarcodeStatus.BLOCKED:
        return Outcome(Decision.DENIED, Reason.BLOCKED, external=ext)
    product = ext.product
    if product is None or not rules_match(sector_rules(sector.pk), product.pk, None, ext.tariff_id, None):
        return Outcome(Decision.DENIED, Reason.WRONG_SECTOR, external=ext)
    if ext.valid_from and now < ext.valid_from:
        return Outcome(Decision.DENIED, Reason.NOT_YET_VALID, external=ext)
    if ext.valid_until and now > ext.valid_until:
        return Outcome(Decision.DENIED, Reason.EXPIRED, external=ext)
    reason = window_reason(product, None, ext.first_controlled_at, now)
    if reason:
        return Outcome(Decision.DENIED, reason, external=ext)
    qs = ExternalBarcode.objects.filter(pk=ext.pk, status=ExternalBarcodeStatus.ACTIVE)
    if product.single_entry:
        qs = qs.filter(Q(control_count=0) | Q(inside=False)) if sector.reentry_allowed else qs.filter(control_count=0)
    elif product.max_controls:
        qs = qs.filter(control_count__lt=product.max_controls)
    if qs.update(control_count=F("control_count") + 1, first_controlled_at=Coalesce(F("first_controlled_at"), now),
                 last_controlled_at=now, inside=True):
        return Outcome(Decision.GRANTED, external=ext,
                       info={"product": product.code, "product_name": product.name, "season": ext.season_code,
                             "entries": ext.control_count + 1})
    return Outcome(Decision.DENIED, Reason.ALREADY_CONTROLLED if product.single_entry
                   else Reason.MAX_CONTROLS_REACHED, external=ext)


TICKET_RELATED = ("product", "performance", "tariff", "category", "cultural_contact", "order__buyer")
