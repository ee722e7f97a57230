"""Access-control services: places and devices, rules, the scan decision
(online), offline history and imported controls, external barcodes,
post-synchronisation. Admin, API, CLI and tests all call these.

The online decision for a barcode passgate issued costs a fixed number of SQL
queries (device by token hash, ticket by barcode with its catalogue rows, the
sector's rules, one conditional UPDATE, one INSERT), whatever the number of
tickets; the UPDATE carries the entry policy in its WHERE clause, so two doors
racing on one single-entry ticket cannot both be granted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from passgate.catalog.models import Category, Performance, Product, Tariff, Validity
from passgate.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PassgateError,
    WrongShape,
    expect_text,
    shown,
)
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    create_scoped,
    delete_scoped,
    record_audit,
    snapshot,
    update_scoped,
)
from passgate.sales.models import RetiredBarcode, Ticket, TicketStatus

from . import cache
from . import connectors as connector_registry
from .changes import log_changes
from .models import (
    AccessRule,
    AccessSettings,
    ChangeKind,
    ConflictKind,
    DailyControl,
    Decision,
    Device,
    DeviceStatus,
    Direction,
    Door,
    ExternalBarcode,
    ExternalBarcodeStatus,
    ExternalProductMapping,
    Operation,
    PostSync,
    Reason,
    Scan,
    ScanConflict,
    ScanSource,
    Sector,
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
}


def hash_secret(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- settings and keys

def access_settings(organisation) -> AccessSettings:
    obj = AccessSettings.objects.filter(organisation=organisation).first()
    if obj is None:
        AccessSettings.objects.bulk_create([AccessSettings(organisation=organisation)], ignore_conflicts=True)
        obj = AccessSettings.objects.get(organisation=organisation)
    return obj


def set_signed_barcodes(actor: Actor, enabled: bool) -> AccessSettings:
    """Switch the organisation to signed barcodes (new sales and reprints carry a signed payload)."""
    from . import signing

    actor.require(Permission.MANAGE_ACCESS)
    with transaction.atomic():
        obj = access_settings(actor.organisation)
        before = snapshot(obj)
        obj.signed_barcodes = bool(enabled)
        obj.save(update_fields=["signed_barcodes", "updated_at"])  # never write back config_version
        if enabled and signing.current_key(actor.organisation.pk) is None:
            signing.create_key(actor.organisation.pk)
        record_audit(actor, "set_signed_barcodes", obj, before, snapshot(obj))
    return obj


def rotate_signing_key(actor: Actor):
    """A new key signs from now on; the old one is retired but still verifies."""
    from . import signing
    from .models import SigningKey

    actor.require(Permission.MANAGE_ACCESS)
    with transaction.atomic():
        SigningKey.objects.filter(organisation=actor.organisation, retired_at__isnull=True).update(
            retired_at=timezone.now())
        key = signing.create_key(actor.organisation.pk)
        record_audit(actor, "rotate_signing_key", key, None, snapshot(key))
    return key


# ---------------------------------------------------------------- places

def _check_connector(name: str) -> str:
    name = (name or "").strip()
    if name and connector_registry.get(name) is None:
        raise InvalidInput("no connector of this name is installed", field="connector",
                           expected=", ".join(connector_registry.names()) or "an installed connector",
                           found=name)
    return name


def _options(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("connector options must be a JSON object", field="connector_options",
                           expected="an object such as {\"serviceId\": \"…\"}", found=type(value).__name__)
    return value


def create_sector(actor: Actor, code: str, name: str, *, reentry_allowed: bool = False, connector: str = "",
                  connector_options: dict | None = None, admit_when_partner_unreachable: bool = True) -> Sector:
    if Sector.objects.filter(organisation=actor.organisation, code=code).exists():
        raise InvalidInput("a sector with this code exists already (a sector code appears once)", field="code",
                           code="duplicate", expected="a new sector code", found=code)
    return create_scoped(actor, Sector, Permission.MANAGE_ACCESS, code=code, name=name,
                         reentry_allowed=reentry_allowed, connector=_check_connector(connector),
                         connector_options=_options(connector_options),
                         admit_when_partner_unreachable=admit_when_partner_unreachable)


def update_sector(actor: Actor, sector: Sector, **fields: Any) -> Sector:
    if "connector" in fields:
        fields["connector"] = _check_connector(fields["connector"])
    if "connector_options" in fields:
        fields["connector_options"] = _options(fields["connector_options"])
    with transaction.atomic():
        sector = update_scoped(actor, sector, Permission.MANAGE_ACCESS, **fields)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector.pk, "")])
    return sector


def create_door(actor: Actor, sector: Sector, code: str, name: str) -> Door:
    if Door.objects.filter(organisation=actor.organisation, code=code).exists():
        raise InvalidInput("a door with this code exists already", field="code", code="duplicate",
                           expected="a new door code", found=code)
    return create_scoped(actor, Door, Permission.MANAGE_ACCESS, sector=sector, code=code, name=name)


def add_rule(actor: Actor, sector: Sector, product: Product, performance=None, tariff=None,
             category=None) -> AccessRule:
    for name, value in (("performance", performance), ("tariff", tariff), ("category", category)):
        if value is not None and value.product_id != product.pk:
            raise InvalidInput(f"the {name} belongs to another product", field=name,
                               expected=f"a {name} of product {product.code}", found=getattr(value, "code", value.pk))
    with transaction.atomic():
        rule = create_scoped(actor, AccessRule, Permission.MANAGE_ACCESS, sector=sector, product=product,
                             performance=performance, tariff=tariff, category=category)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector.pk, "")])
    return rule


def delete_rule(actor: Actor, rule: AccessRule) -> None:
    with transaction.atomic():
        sector_id = rule.sector_id
        delete_scoped(actor, rule, Permission.MANAGE_ACCESS)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector_id, "")])


# ---------------------------------------------------------------- devices

def _new_enrolment(device: Device) -> str:
    code = secrets.token_hex(8).upper()  # 64 bits, typed once on the device
    device.enrolment_code_hash = hash_secret(code)
    device.enrolment_expires_at = timezone.now() + ENROLMENT_TTL
    return code


def create_device(actor: Actor, door: Door, name: str, kind: str = "SCANNER") -> tuple[Device, str]:
    """Returns the device and its one-time enrolment code (shown once)."""
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"door": door})
    if Device.objects.filter(organisation=actor.organisation, name=name).exists():
        raise InvalidInput("a device with this name exists already", field="name", code="duplicate",
                           expected="a new device name", found=name)
    with transaction.atomic():
        device = Device(organisation=actor.organisation, door=door, name=name, kind=kind)
        code = _new_enrolment(device)
        device.full_clean()
        device.save()
        record_audit(actor, "create", device, None, snapshot(device))
    return device, code


def _issue_token(device: Device) -> str:
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device.token_hash = hash_secret(token)
    device.token_prefix = token[:10]
    return token


def enrol_device(code: str) -> tuple[Device, str]:
    """A device exchanges its one-time enrolment code for its own API token."""
    code = (code or "").strip().upper()
    if not code:
        raise InvalidInput("the enrolment code is missing", field="code", expected="the code shown at enrolment")
    now = timezone.now()
    with transaction.atomic():
        device = (Device.objects.select_for_update()
                  .filter(enrolment_code_hash=hash_secret(code), status=DeviceStatus.PENDING).first())
        if device is None or (device.enrolment_expires_at and device.enrolment_expires_at < now):
            raise Forbidden("unknown, used or expired enrolment code", field="code", code="bad_enrolment_code",
                            expected="a valid one-time code from the back office")
        token = _issue_token(device)
        device.status = DeviceStatus.ACTIVE
        device.enrolment_code_hash = None
        device.enrolment_expires_at = None
        device.enrolled_at = now
        device.save()
        record_audit(Actor.system(device.organisation, f"device:{device.name}"), "enrol", device, None,
                     snapshot(device))
    return device, token


def reenrol_device(actor: Actor, device: Device) -> tuple[Device, str]:
    """'Roll' from the back office: the current token dies now; a new enrolment code is issued."""
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"device": device})
    with transaction.atomic():
        before = snapshot(device)
        code = _new_enrolment(device)
        device.token_hash = None
        device.token_prefix = ""
        device.status = DeviceStatus.PENDING
        device.revoked_at = None
        device.token_rolled_at = timezone.now()
        device.save()
        record_audit(actor, "roll", device, before, snapshot(device))
    return device, code


def roll_device_token(device: Device) -> str:
    """The device replaces its own token (the old one stops working at once)."""
    with transaction.atomic():
        device = Device.objects.select_related("organisation").get(pk=device.pk)  # auth holds a partial row
        before = snapshot(device)
        token = _issue_token(device)
        device.token_rolled_at = timezone.now()
        updated = Device.objects.filter(pk=device.pk, status=DeviceStatus.ACTIVE).update(
            token_hash=device.token_hash, token_prefix=device.token_prefix, token_rolled_at=device.token_rolled_at)
        if not updated:
            raise Forbidden("this device is revoked", code="device_revoked", field="Authorization")
        record_audit(Actor.system(device.organisation, f"device:{device.name}"), "roll_token", device, before,
                     snapshot(device))
    return token


def revoke_device(actor: Actor, device: Device) -> Device:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"device": device})
    with transaction.atomic():
        before = snapshot(device)
        device.status = DeviceStatus.REVOKED
        device.revoked_at = timezone.now()
        device.enrolment_code_hash = None
        device.save()
        record_audit(actor, "revoke", device, before, snapshot(device))
    return device


class DeviceRevoked(Forbidden):
    code = "device_revoked"
    http_status = 401


_DEVICE_FIELDS = ("id", "organisation_id", "door_id", "name", "kind", "status", "token_prefix", "last_seen_at")
_DEVICE_SQL = (
    "SELECT " + ", ".join(f'd."{c}"' for c in _DEVICE_FIELDS)
    + ", COALESCE((SELECT s.config_version FROM access_accesssettings s WHERE s.organisation_id = d.organisation_id), 0)"
    + " FROM access_device d WHERE d.token_hash = %s")


def authenticate_device(token: str) -> Device | None:
    """The device behind a token (one indexed query), None if unknown; a revoked device is told so.
    The Device returned carries only the columns the hot path reads: never save() it."""
    if not token or not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_DEVICE_SQL, [hash_secret(token)])
        row = cursor.fetchone()
    if row is None:
        return None
    cache.check_version(row[1], row[-1])
    device = Device(**dict(zip(_DEVICE_FIELDS, row[:-1], strict=True)))
    device._state.adding = False
    if device.last_seen_at is not None and timezone.is_naive(device.last_seen_at):
        device.last_seen_at = timezone.make_aware(device.last_seen_at, dt.UTC)
    # door, sector and organisation change rarely: from the per-process cache (see cache.py)
    device.door = cache.door(device.door_id)
    device.organisation = cache.row(Organisation, device.organisation_id)
    if device.status != DeviceStatus.ACTIVE:
        raise DeviceRevoked(f"device {device.name} has been revoked: it may no longer scan nor download",
                            field="Authorization", expected="the token of an active device", found="revoked")
    return device


def touch_device(device: Device) -> None:
    """last_seen_at is a courtesy: written at most once a minute, never on the hot path otherwise."""
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_RESOLUTION:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now


# ---------------------------------------------------------------- input checks

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


# ---------------------------------------------------------------- the decision

def holder_name(ticket: Ticket) -> str:
    if hasattr(ticket, "_holder"):
        return ticket._holder
    contact = ticket.cultural_contact or (ticket.order.buyer if ticket.order_id else None)
    return contact.full_name if contact else ""


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


def ticket_view(ticket: Ticket, entries: int | None = None) -> dict[str, Any]:
    """What the steward sees."""
    perf = ticket.performance
    return {
        "product": ticket.product.code,
        "product_name": ticket.product.name,
        "performance": perf.code if perf else None,
        "performance_starts_at": _iso(perf.starts_at) if perf else None,
        "tariff": ticket.tariff.code,
        "tariff_name": ticket.tariff.name,
        "category": ticket.category.code if ticket.category_id else None,
        "seat": ticket.seat,
        "holder": holder_name(ticket),
        "entries": ticket.control_count if entries is None else entries,
    }


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
    if outcome.reason == Reason.ALREADY_CONTROLLED and outcome.previous:
        message = f"Already used at {outcome.previous['at']} (door {outcome.previous['door']})"
    return {
        "decision": outcome.decision,
        "reason": outcome.reason or None,
        "operation": outcome.operation,
        "message": message,
        "barcode": barcode,
        "direction": direction,
        "scanned_at": _iso(scanned_at),
        "door": device.door.code,
        "sector": device.door.sector.code,
        "ticket": info,
        "previous": outcome.previous,
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
        "product_id": ticket.product_id if ticket else (ext.product_id if ext else None),
        "barcode": barcode, "recorded_barcode": outcome.recorded_barcode, "nonce": nonce, "source": source,
        "direction": direction, "decision": outcome.decision, "reason": outcome.reason,
        "operation": outcome.operation, "message": response["message"][:300], "scanned_at": scanned_at,
        "received_at": now, "response": response, "connector": outcome.connector,
        "postsync_status": outcome.postsync,
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


def replay(device: Device, nonce: str) -> dict[str, Any] | None:
    scan = Scan.objects.filter(device=device, nonce=nonce).first()
    return _answer(scan) if scan else None


def scan(device: Device, barcode: Any, nonce: Any, scanned_at: Any = None, direction: Any = Direction.ENTRY,
         *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The online decision. Idempotent by (device, nonce): a retry returns the first answer."""
    barcode = clean_barcode(barcode)
    nonce = clean_nonce(nonce)
    direction = clean_direction(direction)
    now = now or timezone.now()
    scanned_at = clean_time(scanned_at, "scanned_at") if scanned_at is not None else now
    sector = device.door.sector
    org_id = device.organisation_id
    try:
        with transaction.atomic():
            ticket = find_ticket(org_id, barcode)
            if ticket is not None:
                pending = {"device": device, "barcode": barcode, "nonce": nonce, "scanned_at": scanned_at,
                           "direction": direction}
                outcome = _decide_ticket(ticket, sector, direction, now, pending)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            retired = RetiredBarcode.objects.filter(organisation_id=org_id, barcode=barcode).select_related(
                *("ticket__" + r for r in TICKET_RELATED)).first()
            if retired is not None:
                outcome = Outcome(Decision.DENIED, Reason.INVALIDATED, ticket=retired.ticket,
                                  message=f"Barcode replaced by a reprint on {retired.retired_at:%Y-%m-%d %H:%M}")
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            ext = ExternalBarcode.objects.select_related("product").filter(
                organisation_id=org_id, barcode=barcode).first()
            if ext is not None and not (sector.connector and ext.source == sector.connector):
                outcome = _decide_external(ext, sector, direction, now)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            connector = connector_registry.get(sector.connector)
            if connector is None or not connector.recognises(barcode, sector):
                outcome = Outcome(Decision.DENIED, Reason.UNKNOWN_BARCODE)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
    except IntegrityError as exc:
        return _replay_after_race(device, nonce, exc)
    return _scan_with_connector(device, connector, sector, barcode, nonce, scanned_at, direction, now, ext)


def _replay_after_race(device, nonce, exc: IntegrityError) -> dict:
    """A concurrent scan with the same nonce won the insert: answer as it did."""
    answer = replay(device, nonce)
    if answer is None:
        raise exc
    return answer


def _scan_with_connector(device, connector, sector, barcode, nonce, scanned_at, direction, now, ext) -> dict:
    """Partner cards: the partner call happens outside any database transaction."""
    previous = replay(device, nonce)
    if previous is not None:
        return previous
    check = connector_registry.PartnerCheck(
        organisation_id=device.organisation_id, sector=sector, door_code=device.door.code, device_id=device.pk,
        barcode=barcode, scanned_at=scanned_at, direction=direction, offline=False,
        reference=f"{device.pk}:{nonce}")
    try:
        result = connector.validate(check)
    except connector_registry.PartnerUnavailable as exc:
        if sector.admit_when_partner_unreachable:
            outcome = Outcome(Decision.GRANTED, connector=connector.name, postsync=PostSync.PENDING,
                              operation=Operation.OFFLINE_OK, external=ext,
                              message="Partner unreachable: admitted on card detection, will be synchronised")
        else:
            outcome = Outcome(Decision.DENIED, Reason.PARTNER_UNAVAILABLE, connector=connector.name, external=ext,
                              message=f"Partner unreachable: {exc}"[:300] if str(exc) else "")
    else:
        outcome = Outcome(
            Decision.GRANTED if result.granted else Decision.DENIED,
            "" if result.granted else (result.reason or Reason.PARTNER_REFUSED),
            message=result.message, connector=connector.name, recorded_barcode=result.recorded_barcode,
            info=result.info or None, partner_reason=result.partner_reason, external=ext)
    try:
        with transaction.atomic():
            return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
    except IntegrityError as exc:
        return _replay_after_race(device, nonce, exc)


# ---------------------------------------------------------------- offline history and imports

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
        if ticket is None and sector is not None and sector.connector and (ext is None or ext.source == sector.connector):
            connector = connector_registry.get(sector.connector)
            if connector is not None and connector.recognises(item.barcode, sector):
                connector_name = connector.name
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
                             "scanned_at": _iso(item.scanned_at)}
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
        elif ext is not None and not connector_name:
            if item.direction == Direction.ENTRY and ext.status == ExternalBarcodeStatus.BLOCKED and (
                    ext.blocked_at is None or ext.blocked_at <= item.scanned_at):
                conflicts.append(_flag(scan_row, ConflictKind.INVALIDATED_BEFORE_ENTRY,
                                       detail=f"blocked at {_iso(ext.blocked_at)}: {ext.block_reason}"))
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
                           detail=f"barcode replaced by a reprint at {_iso(retired.retired_at)}"))
    if ticket.status == TicketStatus.CANCELLED and ticket.cancelled_at and ticket.cancelled_at <= at:
        found.append(_flag(scan_row, ConflictKind.CANCELLED_BEFORE_ENTRY,
                           detail=f"ticket cancelled at {_iso(ticket.cancelled_at)}"))
    if ticket.status == TicketStatus.INVALIDATED and ticket.invalidated_at and ticket.invalidated_at <= at:
        found.append(_flag(scan_row, ConflictKind.INVALIDATED_BEFORE_ENTRY,
                           detail=f"ticket invalidated at {_iso(ticket.invalidated_at)}"))
    if sector is not None and not rules_match(sector_rules(sector.pk), ticket.product_id, ticket.performance_id,
                                              ticket.tariff_id, ticket.category_id):
        found.append(_flag(scan_row, ConflictKind.WRONG_SECTOR, detail=f"not valid in sector {sector.code}"))
    window = window_reason(ticket.product, ticket.performance, ticket.first_controlled_at, at)
    if window:
        found.append(_flag(scan_row, ConflictKind.OUT_OF_VALIDITY, detail=f"{window} at {_iso(at)}"))
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
                                   detail=f"also admitted at {_iso(other.scanned_at)} ({where})"))
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
    existing = set(Scan.objects.filter(device=device, nonce__in=[p.nonce for p in parsed])
                   .values_list("nonce", flat=True))
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


# ---------------------------------------------------------------- post-synchronisation

def pending_postsync(organisation_id: int, connector: str, limit: int = 100) -> list[Scan]:
    return list(Scan.objects.filter(organisation_id=organisation_id, connector=connector,
                                    postsync_status=PostSync.PENDING)
                .select_related("sector", "door", "device").order_by("scanned_at", "id")[:limit])


def run_postsync(organisation_id: int, connector_name: str, limit: int = 100) -> dict[str, int]:
    """Hand queued partner cards to their connector. At-least-once: the connector is
    idempotent by the scan's reference; a partner outage leaves the scan pending."""
    connector = connector_registry.get(connector_name)
    if connector is None:
        raise NotFound("no connector of this name is installed", field="connector", found=connector_name)
    done = failed = pending = 0
    for row in pending_postsync(organisation_id, connector_name, limit):
        try:
            result = connector.post_sync(row)
        except connector_registry.PartnerUnavailable as exc:
            Scan.objects.filter(pk=row.pk).update(postsync_attempts=F("postsync_attempts") + 1,
                                                  postsync_detail=str(exc)[:300])
            pending += 1
            continue
        status = PostSync.DONE if result.granted or result.partner_reason else PostSync.FAILED
        Scan.objects.filter(pk=row.pk, postsync_status=PostSync.PENDING).update(
            postsync_status=status, postsync_attempts=F("postsync_attempts") + 1,
            postsync_detail=(result.message or result.partner_reason or "")[:300],
            recorded_barcode=result.recorded_barcode or row.recorded_barcode)
        if status == PostSync.DONE:
            done += 1
        else:
            failed += 1
    return {"done": done, "failed": failed, "pending": pending}


# ---------------------------------------------------------------- external barcodes

def set_external_mapping(actor: Actor, source: str, season_code: str, product_code: str,
                         tariff: Tariff) -> ExternalProductMapping:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"tariff": tariff})
    for name, value in (("source", source), ("season_code", season_code), ("product_code", product_code)):
        if not value or not str(value).strip():
            raise InvalidInput(f"{name} is required", field=name, expected="a code", found=value)
    with transaction.atomic():
        mapping = ExternalProductMapping.objects.filter(organisation=actor.organisation, source=source,
                                                        season_code=season_code, product_code=product_code).first()
        before = snapshot(mapping)
        if mapping is None:
            mapping = ExternalProductMapping(organisation=actor.organisation, source=source,
                                             season_code=season_code, product_code=product_code)
        mapping.tariff = tariff
        mapping.save()
        record_audit(actor, "set_mapping", mapping, before, snapshot(mapping))
        # Barcodes already imported under this product code now map to the tariff.
        changed = list(ExternalBarcode.objects.filter(organisation=actor.organisation, source=source,
                                                      season_code=season_code, product_code=product_code)
                       .values_list("pk", flat=True))
        ExternalBarcode.objects.filter(pk__in=changed).update(tariff=tariff, product_id=tariff.product_id)
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, pk, "") for pk in changed])
    return mapping


def import_external_barcodes(actor: Actor, source: str, items: list[Any]) -> dict[str, Any]:
    """Upsert barcodes passgate did not issue, with their season and product codes;
    the product-code → tariff mapping says under which tariff they are sold. Idempotent."""
    actor.require(Permission.MANAGE_ACCESS)
    if not source or not str(source).strip():
        raise InvalidInput("source is required", field="source", expected="who issues them, e.g. otipass",
                           found=source)
    _history_batch(items, "barcodes")
    mappings = {(m.season_code, m.product_code): m.tariff for m in
                ExternalProductMapping.objects.filter(organisation=actor.organisation, source=source)
                .select_related("tariff")}
    created = updated = unchanged = 0
    unmapped: set[str] = set()
    with transaction.atomic():
        changed_ids = []
        for i, raw in enumerate(items):
            where = f"barcodes[{i}]"
            if not isinstance(raw, dict):
                raise WrongShape("each barcode must be an object", field=where, expected="an object",
                                 found=shown(raw))
            barcode = clean_barcode(raw.get("barcode"), f"{where}.barcode")
            season_code = expect_text(raw.get("season_code"), f"{where}.season_code").strip()
            product_code = expect_text(raw.get("product_code"), f"{where}.product_code").strip()
            if not season_code:
                raise InvalidInput("season_code is required", field=f"{where}.season_code", expected="a season code")
            if not product_code:
                raise InvalidInput("product_code is required", field=f"{where}.product_code",
                                   expected="a product code")
            status = raw.get("status") or ExternalBarcodeStatus.ACTIVE
            if status not in ExternalBarcodeStatus.values:
                raise WrongShape("unknown status", field=f"{where}.status", expected="ACTIVE or BLOCKED",
                                 found=shown(status))
            valid_from = clean_time(raw["valid_from"], f"{where}.valid_from") if raw.get("valid_from") else None
            valid_until = clean_time(raw["valid_until"], f"{where}.valid_until") if raw.get("valid_until") else None
            if Ticket.objects.filter(organisation=actor.organisation, barcode=barcode).exists():
                raise Conflict("this barcode is a ticket passgate issued", field=f"{where}.barcode",
                               code="duplicate", expected="a barcode passgate did not issue", found=barcode)
            tariff = mappings.get((season_code, product_code))
            if tariff is None:
                unmapped.add(f"{season_code}/{product_code}")
            values = {"source": source, "season_code": season_code, "product_code": product_code,
                      "category_code": expect_text(raw.get("category_code"), f"{where}.category_code")[:40], "tariff": tariff,
                      "product_id": tariff.product_id if tariff else None, "status": status,
                      "valid_from": valid_from, "valid_until": valid_until}
            ext = ExternalBarcode.objects.filter(organisation=actor.organisation, barcode=barcode).first()
            if ext is None:
                ext = ExternalBarcode(organisation=actor.organisation, barcode=barcode, **values)
                if status == ExternalBarcodeStatus.BLOCKED:
                    ext.blocked_at = timezone.now()
                    ext.block_reason = expect_text(raw.get("block_reason") or "BLOCKED", f"{where}.block_reason")[:60]
                ext.save()
                created += 1
                changed_ids.append(ext.pk)
                continue
            diff = {k: v for k, v in values.items()
                    if getattr(ext, "tariff" if k == "tariff" else k) != v}
            if not diff:
                unchanged += 1
                continue
            for k, v in diff.items():
                setattr(ext, k, v)
            if "status" in diff:
                ext.blocked_at = timezone.now() if status == ExternalBarcodeStatus.BLOCKED else None
                ext.block_reason = expect_text(raw.get("block_reason") or "BLOCKED", f"{where}.block_reason")[:60] if ext.blocked_at else ""
            ext.save()
            updated += 1
            changed_ids.append(ext.pk)
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, pk, "") for pk in changed_ids])
        record_audit(actor, "import_external_barcodes", actor.organisation, None,
                     {"source": source, "created": created, "updated": updated, "unchanged": unchanged})
    return {"created": created, "updated": updated, "unchanged": unchanged, "unmapped": sorted(unmapped)}


def block_external_barcode(actor: Actor, ext: ExternalBarcode, reason: str = "BLOCKED") -> ExternalBarcode:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"barcode": ext})
    with transaction.atomic():
        before = snapshot(ext)
        ExternalBarcode.objects.filter(pk=ext.pk).update(status=ExternalBarcodeStatus.BLOCKED,
                                                         blocked_at=timezone.now(), block_reason=reason[:60])
        ext.refresh_from_db()
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, ext.pk, "")])
        record_audit(actor, "block", ext, before, snapshot(ext))
    return ext


def external_sale_info(organisation, barcode: str) -> dict[str, Any] | None:
    """What selling an external barcode needs (the Otipass reintegration uses it)."""
    ext = ExternalBarcode.objects.select_related("tariff", "tariff__product").filter(
        organisation=organisation, barcode=barcode).first()
    if ext is None:
        return None
    return {"barcode": ext.barcode, "source": ext.source, "season_code": ext.season_code,
            "product_code": ext.product_code, "tariff": ext.tariff, "product": ext.tariff.product if ext.tariff else None,
            "ticket": ext.ticket_id}


def link_external_to_ticket(ext: ExternalBarcode, ticket: Ticket) -> None:
    ExternalBarcode.objects.filter(pk=ext.pk).update(ticket=ticket)


__all__ = [name for name in dir() if not name.startswith("_")] + ["PassgateError"]
