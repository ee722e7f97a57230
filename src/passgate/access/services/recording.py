"""Recording a decision: the scan row, the answer the device gets, replays by nonce."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection

from passgate.errors import Conflict
from passgate.sales.models import Ticket

from ..models import (
    Decision,
    Device,
    ExternalBarcode,
    Operation,
    Reason,
    Scan,
    ScanSource,
)
from .inputs import MESSAGES, _iso, in_words


def holder_name(ticket: Ticket) -> str:
    if hasattr(ticket, "_holder"):
        return ticket._holder
    contact = ticket.cultural_contact or (ticket.order.buyer if ticket.order_id else None)
    return contact.full_name if contact else ""


def ticket_view(ticket: Ticket, entries: int | None = None) -> dict[str, Any]:
    """What the steward sees."""
    perf = ticket.performance
    return {
        "product": ticket.product.code,
        "product_name": ticket.product.name,
        "performance": perf.code if perf else None,
        "performance_starts_at": _iso(perf.starts_at, ticket.organisation_id) if perf else None,
        "tariff": ticket.tariff.code,
        "tariff_name": ticket.tariff.name,
        "category": ticket.category.code if ticket.category_id else None,
        "seat": ticket.seat,
        "holder": holder_name(ticket),
        "entries": ticket.control_count if entries is None else entries,
    }


def operation_for(decision: str, reason: str, offline: bool) -> str:
    if decision == Decision.GRANTED:
        return Operation.OFFLINE_OK if offline else Operation.OK
    if reason == Reason.CANCELLED:
        return Operation.CANCELLED_TICKET
    if reason == Reason.INVALIDATED:
        return Operation.INVALIDATED_TICKET
    return Operation.OFFLINE_FAIL if offline else Operation.FAIL


@dataclass
class Outcome:
    decision: str
    reason: str = ""
    message: str = ""
    ticket: Ticket | None = None
    external: ExternalBarcode | None = None
    info: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    connector: str = ""
    recorded_barcode: str = ""
    postsync: str = ""
    operation: str = ""
    partner_reason: str = ""
    recorded: Any = None  # the scan row, when the decision already recorded it
    detail: str = ""  # kept on the scan row, not shown to the steward (e.g. a connector's error)
    product_id: int | None = None  # a partner card's product, when there is no ticket to take it from


def _answer(scan: Scan, outcome: Outcome | None = None) -> dict[str, Any]:
    data = dict(scan.response)
    data["scan_id"] = scan.pk
    return data


def _build_response(device: Device, barcode: str, direction: str, scanned_at: dt.datetime,
                    outcome: Outcome) -> dict[str, Any]:
    info = outcome.info
    if info is None and outcome.ticket is not None:
        info = ticket_view(outcome.ticket)
    message = outcome.message or MESSAGES.get(outcome.reason, outcome.reason)
    if outcome.reason == Reason.ALREADY_CONTROLLED and outcome.previous and not outcome.message:
        at = outcome.previous.get("_at")
        when = in_words(at, device.organisation_id) if at is not None else outcome.previous["at"]
        message = f"Already used {when} (door {outcome.previous['door']})"
    return {
        "decision": outcome.decision,
        "reason": outcome.reason or None,
        "operation": outcome.operation,
        "message": message,
        "barcode": barcode,
        "direction": direction,
        "scanned_at": _iso(scanned_at, device.organisation_id),
        "door": device.door.code,
        "sector": device.door.sector.code,
        "ticket": info,
        "previous": ({k: v for k, v in outcome.previous.items() if not k.startswith("_")}
                     if outcome.previous else None),
        "partner_reason": outcome.partner_reason or None,
    }


def _record(device: Device, barcode: str, nonce: str, scanned_at: dt.datetime, direction: str,
            outcome: Outcome, now: dt.datetime, source: str = ScanSource.DEVICE) -> Scan:
    if outcome.recorded is not None:
        return outcome.recorded
    return _insert_scan(_scan_values(device, barcode, nonce, scanned_at, direction, outcome, now, source))


def _scan_values(device: Device, barcode: str, nonce: str, scanned_at: dt.datetime, direction: str,
                 outcome: Outcome, now: dt.datetime, source: str = ScanSource.DEVICE) -> dict[str, Any]:
    offline = outcome.operation in (Operation.OFFLINE_OK, Operation.OFFLINE_FAIL)
    outcome.operation = outcome.operation or operation_for(outcome.decision, outcome.reason, offline)
    response = _build_response(device, barcode, direction, scanned_at, outcome)
    ticket = outcome.ticket
    ext = outcome.external
    values = {
        "organisation_id": device.organisation_id, "device_id": device.pk, "door_id": device.door_id,
        "sector_id": device.door.sector_id, "ticket_id": ticket.pk if ticket else None,
        "external_barcode_id": ext.pk if ext else None,
        "performance_id": ticket.performance_id if ticket else None,
        "product_id": ticket.product_id if ticket else ((ext.product_id if ext else None) or outcome.product_id),
        "barcode": barcode, "recorded_barcode": outcome.recorded_barcode, "nonce": nonce, "source": source,
        "direction": direction, "decision": outcome.decision, "reason": outcome.reason,
        "operation": outcome.operation, "message": response["message"][:300], "scanned_at": scanned_at,
        "received_at": now, "response": response, "connector": outcome.connector,
        "postsync_status": outcome.postsync, "detail": outcome.detail[:300],
    }
    return values


class _Recorded:
    __slots__ = ("pk", "response")

    def __init__(self, pk, response):
        self.pk = pk
        self.response = response


_INSERT: dict[str, tuple[str, list]] = {}


def _insert_parts(values: dict[str, Any]) -> tuple[str, str, list]:
    """(columns, placeholders, parameters) of a scan row, prepared once per database vendor."""
    vendor = connection.vendor
    if vendor not in _INSERT:
        fields = [f for f in Scan._meta.concrete_fields if not f.primary_key]
        cols = ", ".join(f'"{f.column}"' for f in fields)
        marks = ", ".join("%s::jsonb" if (f.attname == "response" and vendor == "postgresql") else
                          ("%s::" + f.db_type(connection) if vendor == "postgresql" else "%s")
                          for f in fields)
        _INSERT[vendor] = (cols, marks, fields)
    cols, marks, fields = _INSERT[vendor]
    ops = connection.ops
    params = []
    for f in fields:
        name = f.attname
        if name in values:
            value = values[name]
        else:
            value = f.get_default()
        if name == "response":
            value = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, dt.datetime):
            value = ops.adapt_datetimefield_value(value)
        params.append(value)
    return cols, marks, params


def _insert_scan(values: dict[str, Any]) -> _Recorded:
    """One INSERT of a scan row without the ORM's per-call compilation (the hot path)."""
    cols, marks, params = _insert_parts(values)
    sql = f'INSERT INTO "{Scan._meta.db_table}" ({cols}) VALUES ({marks})'
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += ' RETURNING "id"'
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return _Recorded(pk, values["response"])


class NonceReused(Conflict):
    """A device sent a nonce it already used, for another scan: never a grant (a scanner whose
    counter was reset must not open the gate with the first answer given for that nonce)."""

    code = "nonce_reused"


def same_scan(stored: dict[str, Any], barcode: str, direction: str, scanned_at: dt.datetime | None,
              field: str = "nonce", organisation: Any = None) -> None:
    """A retry of a nonce must be the same scan (barcode, direction, and the time when the device sent
    one); otherwise NonceReused. `stored` = the scan row's barcode, direction, scanned_at."""
    differs = (stored["barcode"] != barcode or stored["direction"] != direction
               or (scanned_at is not None and stored["scanned_at"] != scanned_at))
    if differs:
        raise NonceReused(
            "this nonce was already used by this device for another scan", field=field,
            expected=(f"a new nonce, or a retry of the same scan (barcode {stored['barcode']}, direction "
                      f"{stored['direction']}, scanned at {_iso(stored['scanned_at'], organisation)})"),
            found=(f"barcode {barcode}, direction {direction}, "
                   f"scanned at {_iso(scanned_at, organisation) or '(not sent)'}"))


def replay(device: Device, nonce: str, barcode: str | None = None, direction: str | None = None,
           scanned_at: dt.datetime | None = None) -> dict[str, Any] | None:
    """The first answer given for (device, nonce), or None. With `barcode`, the retry must be the same
    scan (see same_scan); scanned_at=None = the device sent no time (any stored time matches)."""
    scan = Scan.objects.filter(device=device, nonce=nonce).first()
    if scan is None:
        return None
    if barcode is not None:
        same_scan({"barcode": scan.barcode, "direction": scan.direction, "scanned_at": scan.scanned_at},
                  barcode, direction or scan.direction, scanned_at, organisation=device.organisation_id)
    return _answer(scan)


def _replay_after_race(device, nonce, exc: IntegrityError, barcode: str, direction: str,
                       scanned_at: dt.datetime | None) -> dict:
    """A scan with the same nonce won the insert (a retry, or a concurrent one): answer as it did,
    if it was the same scan."""
    answer = replay(device, nonce, barcode, direction, scanned_at)
    if answer is None:
        raise exc
    return answer
