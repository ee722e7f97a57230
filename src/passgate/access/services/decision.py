"""The online decision for a barcode: ticket lookup, entry policy, the conditional admit."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from passgate.catalog.models import Category, Performance, Product, Tariff
from passgate.orgs.models import Organisation
from passgate.sales.models import Ticket

from .. import cache, policy
from ..models import (
    DailyControl,
    Decision,
    Direction,
    ExternalBarcode,
    Reason,
    Scan,
    Sector,
)
from .inputs import _iso
from .recording import Outcome, _insert_parts, _Recorded, _scan_values, ticket_view

HOT_TICKET_FIELDS = ("id", "organisation_id", "order_id", "status", "product_id", "performance_id", "tariff_id",
                     "category_id", "seat", "control_count", "first_controlled_at", "inside", "cultural_contact_id")

# Two doors racing on one ticket: the loser re-reads and asks the policy again. Each lost round
# means another door admitted the ticket, so a few rounds always settle it.
MAX_ROUNDS = 16


def _ticket_sql() -> str:
    t = Ticket._meta.db_table
    cols = ", ".join(f't."{Ticket._meta.get_field(f.removesuffix("_id") if f.endswith("_id") else f).column}"'
                     for f in HOT_TICKET_FIELDS)
    # Today's entries are read in the same statement as the ticket (one snapshot): the admit's
    # compare-and-set on control_count then also guards the day count.
    return (f'SELECT {cols}, COALESCE(cc.first_name, b.first_name, \'\'), COALESCE(cc.last_name, b.last_name, \'\'), '
            f'(SELECT dc."count" FROM "{DailyControl._meta.db_table}" dc WHERE dc.ticket_id = t.id AND dc.day = %s) '
            f'FROM "{t}" t LEFT JOIN sales_contact cc ON cc.id = t.cultural_contact_id '
            f'LEFT JOIN sales_order o ON o.id = t.order_id LEFT JOIN sales_contact b ON b.id = o.buyer_id '
            f'WHERE t.organisation_id = %s AND t.barcode = %s')


_TICKET_SQL: list[str] = []


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str) or value.tzinfo is None:
        value = Ticket._meta.get_field("first_controlled_at").to_python(value)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
    return value


def find_ticket(organisation_id: int, barcode: str, day: dt.date | None = None) -> Ticket | None:
    """The ticket of a barcode for a decision: one indexed query (with the holder's name and its
    entries on `day`, as `ticket._today`); its catalogue rows come from the per-process cache."""
    if not _TICKET_SQL:
        _TICKET_SQL.append(_ticket_sql())
    day_param = connection.ops.adapt_datefield_value(day) if day is not None else None
    with connection.cursor() as cursor:
        cursor.execute(_TICKET_SQL[0], [day_param, organisation_id, barcode])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(HOT_TICKET_FIELDS)
    values = dict(zip(HOT_TICKET_FIELDS, row[:n], strict=False))
    values["first_controlled_at"] = _aware(values["first_controlled_at"])
    values["inside"] = bool(values["inside"])
    ticket = Ticket(barcode=barcode, **values)
    ticket._state.adding = False
    ticket.product = cache.row(Product, ticket.product_id)
    ticket.performance = cache.row(Performance, ticket.performance_id)
    ticket.tariff = cache.row(Tariff, ticket.tariff_id)
    ticket.category = cache.row(Category, ticket.category_id)
    ticket._holder = f"{row[n]} {row[n + 1]}".strip()
    ticket._today = row[n + 2] or 0
    return ticket


def product_facts(product) -> policy.ProductFacts:
    """The product as the policy sees it (kept on the cached row: rebuilt when the row changes)."""
    facts = getattr(product, "_policy_facts", None)
    if facts is None:
        facts = policy.ProductFacts(
            single_entry=product.single_entry, max_controls=product.max_controls,
            max_controls_per_day=product.max_controls_per_day, validity=product.validity,
            valid_from=product.valid_from, valid_until=product.valid_until, validity_hours=product.validity_hours)
        product._policy_facts = facts
    return facts


def performance_window(performance) -> policy.Window | None:
    if performance is None:
        return None
    return (performance.doors_open_at or performance.starts_at, performance.ends_at)


def window_reason(product, performance, first_controlled_at, at: dt.datetime) -> str:
    """NOT_YET_VALID / EXPIRED / '' at a given time (the policy's validity rule)."""
    return policy.validity_reason(product_facts(product), performance_window(performance), first_controlled_at, at)


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
    return {"at": _iso(scan.scanned_at, scan.organisation_id),
            "door": scan.door.code if scan.door_id else scan.gate or None, "scan_id": scan.pk, "_at": scan.scanned_at}


def ticket_facts(ticket: Ticket, sector: Sector, direction: str, now: dt.datetime) -> policy.Facts:
    return policy.Facts(
        now=now, direction=direction, status=ticket.status,
        rules_admit=rules_match(sector_rules(sector.pk), ticket.product_id, ticket.performance_id,
                                ticket.tariff_id, ticket.category_id),
        product=product_facts(ticket.product), performance=performance_window(ticket.performance),
        reentry_allowed=sector.reentry_allowed, control_count=ticket.control_count, inside=ticket.inside,
        first_controlled_at=ticket.first_controlled_at, controls_today=getattr(ticket, "_today", 0))


def _denied(reason: str, ticket: Ticket) -> Outcome:
    previous = (_last_entry(ticket.pk) if reason in (Reason.ALREADY_CONTROLLED, Reason.MAX_CONTROLS_REACHED)
                else None)
    return Outcome(Decision.DENIED, reason, ticket=ticket, previous=previous)


def _decide_ticket(ticket: Ticket, sector: Sector, direction: str, now: dt.datetime,
                   pending: dict[str, Any] | None = None) -> Outcome:
    """Read the facts, ask the policy; a grant is written by a compare-and-set on the facts read,
    so of two doors racing only one passes and the other asks the policy again.
    pending = what the scan row needs (device, barcode, nonce, times): on PostgreSQL a grant
    is then admitted and recorded in one statement (fewer round trips on the hot path)."""
    day = getattr(ticket, "_day", None)
    for _round in range(MAX_ROUNDS):
        facts = ticket_facts(ticket, sector, direction, now)
        decision, reason = policy.decide(facts)
        if decision == Decision.DENIED:
            return _denied(reason, ticket)
        if direction == Direction.EXIT:
            if not facts.inside or Ticket.objects.filter(pk=ticket.pk, inside=True).update(inside=False):
                return Outcome(Decision.GRANTED, reason, ticket=ticket)
        else:
            outcome = _admit_ticket(ticket, facts, now, day, pending)
            if outcome is not None:
                return outcome
        fresh = find_ticket(ticket.organisation_id, ticket.barcode, day)
        if fresh is None:  # pragma: no cover - tickets are never deleted
            return Outcome(Decision.DENIED, Reason.UNKNOWN_BARCODE)
        fresh._day = day
        ticket = fresh
    return Outcome(Decision.DENIED, Reason.ALREADY_CONTROLLED, ticket=ticket,
                   message="This ticket is being scanned at another door right now: scan again")


def organisation_day(organisation_id: int, at: dt.datetime) -> dt.date:
    """The calendar day in the organisation's time zone (per-day entry limits)."""
    org = cache.row(Organisation, organisation_id)
    return at.astimezone(_zone(org.time_zone)).date()


_ZONES: dict[str, zoneinfo.ZoneInfo] = {}


def _zone(name: str) -> zoneinfo.ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = zoneinfo.ZoneInfo(name)
    return zone


_DAILY_SQL = (f'INSERT INTO "{DailyControl._meta.db_table}" (ticket_id, day, "count") VALUES (%s, %s, 1) '
              f'ON CONFLICT (ticket_id, day) DO UPDATE SET "count" = "{DailyControl._meta.db_table}"."count" + 1 '
              f'WHERE "{DailyControl._meta.db_table}"."count" = %s')


def _count_today(ticket_id: int, day: dt.date, expected: int) -> bool:
    """Compare-and-set of today's entries (expected → expected + 1, the row created at 0)."""
    with connection.cursor() as cursor:
        cursor.execute(_DAILY_SQL, [ticket_id, connection.ops.adapt_datefield_value(day), expected])
        return cursor.rowcount == 1


def _uncount_today(ticket_id: int, day: dt.date) -> None:
    DailyControl.objects.filter(ticket_id=ticket_id, day=day, count__gt=0).update(count=F("count") - 1)


def _admit_ticket(ticket: Ticket, facts: policy.Facts, now: dt.datetime, day: dt.date | None,
                  pending: dict[str, Any] | None) -> Outcome | None:
    """The grant the policy gave, written if the facts still hold; None when another door changed them."""
    counted = policy.day_limited(facts.product)
    if counted and not _count_today(ticket.pk, day, facts.controls_today):
        return None
    outcome = Outcome(Decision.GRANTED, ticket=ticket, info=ticket_view(ticket, ticket.control_count + 1))
    if pending is not None and connection.vendor == "postgresql":
        values = _scan_values(outcome=outcome, now=now, **pending)
        recorded = _admit(ticket.pk, facts, now, record=values)
        if recorded is not None:
            outcome.recorded = recorded
            return outcome
    elif _admit(ticket.pk, facts, now):
        return outcome
    if counted:
        _uncount_today(ticket.pk, day)
    return None


def _admit(ticket_id: int, facts: policy.Facts, now: dt.datetime, record: dict[str, Any] | None = None):
    """The conditional UPDATE that admits a ticket: a compare-and-set on the facts the policy read
    (status, entries, inside), so of two doors racing on one ticket only one can match. Returns rows
    updated (0 or 1); with `record` (PostgreSQL), the scan row is inserted by the same statement when
    the update matched: returns the recorded scan, or None."""
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (f'UPDATE "{Ticket._meta.db_table}" SET control_count = control_count + 1, '
           f'first_controlled_at = COALESCE(first_controlled_at, %s), last_controlled_at = %s, inside = %s '
           f'WHERE id = %s AND status = %s AND control_count = %s AND inside = %s')
    params: list[Any] = [at, at, True, ticket_id, facts.status, facts.control_count, facts.inside]
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


def external_facts(ext: ExternalBarcode, sector: Sector, direction: str, now: dt.datetime) -> policy.Facts:
    product = ext.product
    return policy.Facts(
        now=now, direction=direction, status=ext.status,
        rules_admit=product is not None and rules_match(sector_rules(sector.pk), product.pk, None, ext.tariff_id,
                                                        None),
        product=product_facts(product) if product is not None else None,
        reentry_allowed=sector.reentry_allowed, control_count=ext.control_count, inside=ext.inside,
        first_controlled_at=ext.first_controlled_at,
        external=(ext.valid_from, ext.valid_until) if (ext.valid_from or ext.valid_until) else None)


def _decide_external(ext: ExternalBarcode, sector: Sector, direction: str, now: dt.datetime) -> Outcome:
    """The same policy for a partner's barcode imported into passgate (no per-day count: see docs)."""
    for _round in range(MAX_ROUNDS):
        facts = external_facts(ext, sector, direction, now)
        decision, reason = policy.decide(facts)
        if decision == Decision.DENIED:
            return Outcome(Decision.DENIED, reason, external=ext)
        if direction == Direction.EXIT:
            if not facts.inside or ExternalBarcode.objects.filter(pk=ext.pk, inside=True).update(inside=False):
                return Outcome(Decision.GRANTED, reason, external=ext)
        elif ExternalBarcode.objects.filter(
                pk=ext.pk, status=facts.status, control_count=facts.control_count, inside=facts.inside).update(
                control_count=F("control_count") + 1,
                first_controlled_at=Coalesce(F("first_controlled_at"), now), last_controlled_at=now, inside=True):
            product = ext.product
            return Outcome(Decision.GRANTED, external=ext,
                           info={"product": product.code, "product_name": product.name, "season": ext.season_code,
                                 "entries": ext.control_count + 1})
        ext = ExternalBarcode.objects.select_related("product").get(pk=ext.pk)
    return Outcome(Decision.DENIED, Reason.ALREADY_CONTROLLED, external=ext,
                   message="This card is being scanned at another door right now: scan again")


TICKET_RELATED = ("product", "performance", "tariff", "category", "cultural_contact", "order__buyer")
