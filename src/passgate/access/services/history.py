"""Offline history uploads and imported controls, with the conflicts they reveal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from passgate.errors import InvalidInput, NotFound, WrongShape, expect_text, shown
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    record_audit,
    snapshot,
)
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

from .. import connectors as connector_registry
from ..models import (
    ConflictKind,
    DailyControl,
    Decision,
    Device,
    Direction,
    Door,
    ExternalBarcode,
    ExternalBarcodeStatus,
    PostSync,
    Reason,
    Scan,
    ScanConflict,
    ScanSource,
    Sector,
)
from .decision import organisation_day, rules_match, sector_rules, window_reason
from .inputs import MAX_BATCH, _iso, clean_barcode, clean_direction, clean_nonce, clean_time
from .recording import operation_for, same_scan


@dataclass
class HistoryItem:
    barcode: str
    scanned_at: dt.datetime
    decision: str
    direction: str = Direction.ENTRY
    nonce: str = ""
    reason: str = ""
    external_ref: str | None = None
    gate: str = ""


def _flag(scan_row: Scan, kind: str, *, other: Scan | None = None, detail: str = "") -> ScanConflict:
    scan_row.conflict = kind
    Scan.objects.filter(pk=scan_row.pk).update(conflict=kind)
    return ScanConflict.objects.create(
        organisation_id=scan_row.organisation_id, kind=kind, scan=scan_row, other_scan=other,
        ticket_id=scan_row.ticket_id, barcode=scan_row.barcode, sector_id=scan_row.sector_id,
        performance_id=scan_row.performance_id, product_id=scan_row.product_id, detail=detail[:300],
        detected_at=timezone.now())


def _apply_history_control(model, pk: int, item: HistoryItem) -> None:
    """History is never refused: count the entry, keep first/last times, inside after the latest event."""
    at = item.scanned_at
    row = model.objects.filter(pk=pk).values("first_controlled_at", "last_controlled_at").first()
    first = row["first_controlled_at"]
    last = row["last_controlled_at"]
    updates: dict[str, Any] = {}
    latest = last is None or at >= last
    if item.direction == Direction.ENTRY:
        updates["control_count"] = F("control_count") + 1
        if first is None or at < first:
            updates["first_controlled_at"] = at
        if latest:
            updates["last_controlled_at"] = at
            updates["inside"] = True
    elif latest:
        updates["inside"] = False
    if updates:
        model.objects.filter(pk=pk).update(**updates)


def _count_history_day(ticket: Ticket, item: HistoryItem) -> None:
    """An entry decided offline counts toward that day's limit online too (the same facts everywhere)."""
    product = ticket.product
    if item.direction != Direction.ENTRY or product.single_entry or not product.max_controls_per_day:
        return
    day = organisation_day(ticket.organisation_id, item.scanned_at)
    DailyControl.objects.bulk_create([DailyControl(ticket_id=ticket.pk, day=day, count=0)], ignore_conflicts=True)
    DailyControl.objects.filter(ticket_id=ticket.pk, day=day).update(count=F("count") + 1)


def _record_history(organisation_id: int, device: Device | None, door: Door | None, sector: Sector | None,
                    item: HistoryItem, source: str, now: dt.datetime) -> tuple[Scan | None, list[ScanConflict]]:
    """Record one scan decided elsewhere (offline device or third-party gate) and flag conflicts.
    Returns (None, []) when it was recorded already (idempotent)."""
    conflicts: list[ScanConflict] = []
    offline = source == ScanSource.OFFLINE
    with transaction.atomic():
        ticket = (Ticket.objects.select_for_update(of=("self",)).select_related("product", "performance")
                  .filter(organisation_id=organisation_id, barcode=item.barcode).first())
        retired = None
        ext = None
        if ticket is None:
            retired = RetiredBarcode.objects.filter(organisation_id=organisation_id, barcode=item.barcode).first()
            if retired is not None:
                ticket = (Ticket.objects.select_for_update(of=("self",)).select_related("product", "performance")
                          .filter(pk=retired.ticket_id).first())
            else:
                ext = (ExternalBarcode.objects.select_for_update(of=("self",)).select_related("product")
                       .filter(organisation_id=organisation_id, barcode=item.barcode).first())
        connector_name = ""
        served = connector_registry.for_sector(sector) if ticket is None and sector is not None else None
        if served is not None and (ext is None or ext.source == served[0].name):
            if served[0].recognises(item.barcode, sector, served[1]):
                connector_name = served[0].name
        granted = item.decision == Decision.GRANTED
        operation = operation_for(item.decision, item.reason, offline)
        scan_row = Scan(
            organisation_id=organisation_id, device=device, door=door, sector=sector, ticket=ticket,
            external_barcode=ext, performance_id=ticket.performance_id if ticket else None,
            product_id=ticket.product_id if ticket else (ext.product_id if ext else None),
            barcode=item.barcode, nonce=item.nonce, external_ref=item.external_ref, source=source,
            direction=item.direction, decision=item.decision, reason=item.reason, operation=operation,
            scanned_at=item.scanned_at, received_at=now, connector=connector_name, gate=item.gate,
            postsync_status=PostSync.PENDING if (connector_name and granted) else "",
        )
        scan_row.response = {"decision": item.decision, "reason": item.reason or None, "operation": operation,
                             "barcode": item.barcode, "direction": item.direction,
                             "scanned_at": _iso(item.scanned_at, organisation_id)}
        try:
            with transaction.atomic():
                scan_row.save()
        except IntegrityError:
            return None, []
        if not granted:
            return scan_row, []
        if ticket is not None:
            conflicts += _ticket_history_conflicts(scan_row, ticket, retired, sector, item)
            _apply_history_control(Ticket, ticket.pk, item)
            _count_history_day(ticket, item)
        elif ext is not None and not connector_name:
            if item.direction == Direction.ENTRY and ext.status == ExternalBarcodeStatus.BLOCKED and (
                    ext.blocked_at is None or ext.blocked_at <= item.scanned_at):
                blocked_at = _iso(ext.blocked_at, organisation_id)
                conflicts.append(_flag(scan_row, ConflictKind.INVALIDATED_BEFORE_ENTRY,
                                       detail=f"blocked at {blocked_at}: {ext.block_reason}"))
            _apply_history_control(ExternalBarcode, ext.pk, item)
        elif ext is not None:
            _apply_history_control(ExternalBarcode, ext.pk, item)
        elif not connector_name and item.direction == Direction.ENTRY:
            conflicts.append(_flag(scan_row, ConflictKind.UNKNOWN_BARCODE_ADMITTED,
                                   detail="no ticket, retired or external barcode has this value"))
    return scan_row, conflicts


def _ticket_history_conflicts(scan_row: Scan, ticket: Ticket, retired, sector: Sector | None,
                              item: HistoryItem) -> list[ScanConflict]:
    if item.direction != Direction.ENTRY:
        return []
    at = item.scanned_at
    found: list[ScanConflict] = []
    if retired is not None and retired.retired_at <= at:
        found.append(_flag(scan_row, ConflictKind.REPLACED_BEFORE_ENTRY,
                           detail=f"barcode replaced by a reprint at {_iso(retired.retired_at, scan_row.organisation_id)}"))
    if ticket.status == TicketStatus.CANCELLED and ticket.cancelled_at and ticket.cancelled_at <= at:
        found.append(_flag(scan_row, ConflictKind.CANCELLED_BEFORE_ENTRY,
                           detail=f"ticket cancelled at {_iso(ticket.cancelled_at, scan_row.organisation_id)}"))
    if ticket.status == TicketStatus.INVALIDATED and ticket.invalidated_at and ticket.invalidated_at <= at:
        found.append(_flag(scan_row, ConflictKind.INVALIDATED_BEFORE_ENTRY,
                           detail=f"ticket invalidated at {_iso(ticket.invalidated_at, scan_row.organisation_id)}"))
    if sector is not None and not rules_match(sector_rules(sector.pk), ticket.product_id, ticket.performance_id,
                                              ticket.tariff_id, ticket.category_id):
        found.append(_flag(scan_row, ConflictKind.WRONG_SECTOR, detail=f"not valid in sector {sector.code}"))
    window = window_reason(ticket.product, ticket.performance, ticket.first_controlled_at, at)
    if window:
        found.append(_flag(scan_row, ConflictKind.OUT_OF_VALIDITY,
                           detail=f"{window} at {_iso(at, scan_row.organisation_id)}"))
    product = ticket.product
    others = (Scan.objects.filter(ticket_id=ticket.pk, decision=Decision.GRANTED)
              .exclude(pk=scan_row.pk).order_by("scanned_at", "id"))
    if product.single_entry:
        entries = [s for s in others if s.direction == Direction.ENTRY]
        if entries:
            reentry_ok = False
            if sector is not None and sector.reentry_allowed:
                # An exit between the previous entry and this one makes it a legitimate re-entry.
                before = [s for s in entries if s.scanned_at <= at]
                if before and not [s for s in entries if s.scanned_at > at]:
                    last_entry = before[-1]
                    reentry_ok = any(s.direction == Direction.EXIT and last_entry.scanned_at <= s.scanned_at <= at
                                     for s in others)
            if not reentry_ok:
                other = entries[0]
                where = other.door.code if other.door_id else (other.gate or "a third-party gate")
                found.append(_flag(scan_row, ConflictKind.DOUBLE_ENTRY, other=other,
                                   detail=f"also admitted at {_iso(other.scanned_at, scan_row.organisation_id)} ({where})"))
    elif product.max_controls:
        count = sum(1 for s in others if s.direction == Direction.ENTRY) + 1
        if count > product.max_controls:
            found.append(_flag(scan_row, ConflictKind.LIMIT_EXCEEDED,
                               detail=f"entry {count} of at most {product.max_controls}"))
    return found


def _parse_history(raw: Any, index: int, *, need_nonce: bool, need_ref: bool,
                   batch: str = "scans") -> HistoryItem:
    where = f"{batch}[{index}]"
    if not isinstance(raw, dict):
        raise WrongShape("each scan must be an object", field=where, expected="an object", found=shown(raw))
    decision = raw.get("decision", Decision.GRANTED if need_ref else None)
    if decision not in Decision.values:  # a list or an object is never one of them
        raise WrongShape("unknown decision", field=f"{where}.decision", expected="GRANTED or DENIED",
                         found=shown(decision))
    reason = raw.get("reason") or ""
    if reason and reason not in Reason.values:
        raise WrongShape("unknown reason code", field=f"{where}.reason", expected=", ".join(Reason.values),
                         found=shown(reason))
    if raw.get("scanned_at") is None and raw.get("controlled_at") is not None:
        raw = {**raw, "scanned_at": raw["controlled_at"]}  # the S-360 name for imported controls
    if raw.get("scanned_at") is None:
        raise InvalidInput("the time of the scan is missing", field=f"{where}.scanned_at",
                           expected="ISO 8601 with a time zone")
    ref = raw.get("reference")
    if need_ref and (not isinstance(ref, str) or not ref.strip() or len(ref) > 150 or not ref.isprintable()):
        refusal = WrongShape if ref is not None and not isinstance(ref, str) else InvalidInput
        raise refusal("every control needs a reference (its idempotency key)", field=f"{where}.reference",
                      expected="1 to 150 characters, unique per control", found=shown(ref))
    return HistoryItem(
        barcode=clean_barcode(raw.get("barcode"), f"{where}.barcode"),
        scanned_at=clean_time(raw.get("scanned_at"), f"{where}.scanned_at"),
        decision=decision,
        direction=clean_direction(raw.get("direction"), f"{where}.direction"),
        nonce=clean_nonce(raw.get("nonce"), f"{where}.nonce") if need_nonce else "",
        reason=reason,
        external_ref=ref.strip() if need_ref else None,
        gate=expect_text(raw.get("gate") or "", f"{where}.gate")[:100],
    )


def _history_batch(items: list[Any], field: str) -> None:
    if not isinstance(items, list):
        raise InvalidInput("expected a list of scans", field=field, expected="a list", found=type(items).__name__)
    if len(items) > MAX_BATCH:
        raise InvalidInput("too many scans in one batch", field=field, expected=f"at most {MAX_BATCH}",
                           found=len(items))


def upload_offline(device: Device, items: list[Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Scans decided offline: recorded as OFFLINE_OK / OFFLINE_FAIL, never refused, conflicts flagged.
    Idempotent by (device, nonce)."""
    _history_batch(items, "scans")
    parsed = [_parse_history(raw, i, need_nonce=True, need_ref=False) for i, raw in enumerate(items)]
    now = now or timezone.now()
    sector = device.door.sector
    # A nonce already used (stored, or earlier in this batch) must be a retry of the same scan:
    # checked for the whole batch before anything is recorded.
    seen: dict[str, dict[str, Any]] = {
        row["nonce"]: row for row in Scan.objects.filter(device=device, nonce__in=[p.nonce for p in parsed])
        .values("nonce", "barcode", "direction", "scanned_at")}
    existing = set(seen)
    for index, item in enumerate(parsed):
        if item.nonce in seen:
            same_scan(seen[item.nonce], item.barcode, item.direction, item.scanned_at, f"scans[{index}].nonce",
                      organisation=device.organisation_id)
        else:
            seen[item.nonce] = {"barcode": item.barcode, "direction": item.direction, "scanned_at": item.scanned_at}
    recorded = duplicates = 0
    conflicts: list[dict[str, Any]] = []
    queued = 0
    for item in sorted(parsed, key=lambda p: p.scanned_at):
        if item.nonce in existing:
            duplicates += 1
            continue
        row, found = _record_history(device.organisation_id, device, device.door, sector, item,
                                     ScanSource.OFFLINE, now)
        if row is None:
            duplicates += 1
            continue
        existing.add(item.nonce)
        recorded += 1
        queued += row.postsync_status == PostSync.PENDING
        conflicts += [{"nonce": item.nonce, "barcode": item.barcode, "kind": c.kind, "detail": c.detail}
                      for c in found]
    return {"recorded": recorded, "duplicates": duplicates, "conflicts": conflicts, "queued_for_postsync": queued}


def import_controls(actor: Actor, items: list[Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Controls made by a third-party gate; idempotent by each control's reference."""
    actor.require(Permission.CONTROL_ACCESS)
    _history_batch(items, "controls")
    parsed = []
    sectors: dict[str, Sector] = {}
    for i, raw in enumerate(items):
        item = _parse_history(raw, i, need_nonce=False, need_ref=True, batch="controls")
        code = expect_text(raw.get("sector"), f"controls[{i}].sector")
        if code and code not in sectors:
            sec = Sector.objects.filter(organisation=actor.organisation, code=code).first()
            if sec is None:
                raise NotFound("no sector with this code", field=f"controls[{i}].sector", found=code)
            sectors[code] = sec
        parsed.append((item, sectors.get(code) if code else None))
    now = now or timezone.now()
    existing = set(Scan.objects.filter(organisation=actor.organisation,
                                       external_ref__in=[p.external_ref for p, _ in parsed])
                   .values_list("external_ref", flat=True))
    recorded = duplicates = 0
    conflicts = []
    for item, sector in sorted(parsed, key=lambda p: p[0].scanned_at):
        if item.external_ref in existing:
            duplicates += 1
            continue
        row, found = _record_history(actor.organisation.pk, None, None, sector, item, ScanSource.IMPORT, now)
        if row is None:
            duplicates += 1
            continue
        existing.add(item.external_ref)
        recorded += 1
        conflicts += [{"reference": item.external_ref, "barcode": item.barcode, "kind": c.kind,
                       "detail": c.detail} for c in found]
    record_audit(actor, "import_controls", actor.organisation, None,
                 {"recorded": recorded, "duplicates": duplicates, "conflicts": len(conflicts)})
    return {"recorded": recorded, "duplicates": duplicates, "conflicts": conflicts}


def resolve_conflict(actor: Actor, conflict: ScanConflict, note: str = "") -> ScanConflict:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"conflict": conflict})
    before = snapshot(conflict)
    conflict.resolved_at = timezone.now()
    conflict.resolution_note = note[:300]
    conflict.save(update_fields=["resolved_at", "resolution_note"])
    record_audit(actor, "resolve", conflict, before, snapshot(conflict))
    return conflict
