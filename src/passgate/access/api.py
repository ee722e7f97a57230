"""Access-control API, mounted at /api/v1/access/.

Device endpoints (scans, offline upload, package, token roll) authenticate with
the device's own bearer token (`pgd_…`); back-office endpoints use an
organisation API token; enrolment uses the one-time code alone."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.security import HttpBearer
from pydantic import Field, field_validator

from passgate.apikit import decode_cursor, encode_cursor
from passgate.catalog.models import Category, Performance, Product, Tariff
from passgate.errors import InvalidInput, NotFound
from passgate.jobs.models import Interface
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get

from . import lists, package, services
from .models import AccessRule, Decision, Device, DeviceKind, Door, Reason, Scan, ScanConflict, Sector
from .reports import attendance, performance_attendance

PREFIX = "/v1/access/"
router = Router(tags=["access"])


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("the NUL character is not allowed")
    if isinstance(value, dict):
        for v in value.values():
            _no_nul(v)
    elif isinstance(value, list):
        for v in value:
            _no_nul(v)
    return value


class In(Schema):
    """Request bodies: text never carries a NUL character (the databases refuse it)."""

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _no_nul(value)


class DeviceAuth(HttpBearer):
    """Bearer token of an enrolled device; request.auth becomes the Device (one indexed query)."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Device | None:
        request._pg_t0 = time.perf_counter()  # type: ignore[attr-defined]
        return services.authenticate_device(token)


device_auth = DeviceAuth()


def _json(data: Any, status: int = 200, request: HttpRequest | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(data, separators=(",", ":")), content_type="application/json",
                            status=status)
    t0 = getattr(request, "_pg_t0", None) if request is not None else None
    if t0 is not None:
        response["Server-Timing"] = f"scan;dur={(time.perf_counter() - t0) * 1000:.3f}"
    return response


def _actor(request: HttpRequest, permission: Permission) -> Actor:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    actor.require(permission)
    return actor


# ---------------------------------------------------------------- device endpoints

class ScanIn(In):
    barcode: str
    nonce: str
    scanned_at: str | None = None
    direction: str = "ENTRY"


@router.post("/scans", auth=device_auth, summary="Online scan decision (device token)")
def post_scan(request: HttpRequest, payload: ScanIn):
    answer = services.scan(request.auth, payload.barcode, payload.nonce, payload.scanned_at, payload.direction)
    return _json(answer, request=request)


class OfflineIn(In):
    scans: list[dict[str, Any]]


@router.post("/scans/offline", auth=device_auth, summary="Upload scans decided offline (device token)")
def post_offline(request: HttpRequest, payload: OfflineIn):
    services.touch_device(request.auth)
    return _json(services.upload_offline(request.auth, payload.scans), request=request)


@router.get("/package", auth=device_auth, summary="Offline package for the device's sector (full, then increments)")
def get_package(request: HttpRequest, cursor: str | None = None, limit: int = package.DEFAULT_LIMIT):
    device: Device = request.auth
    services.touch_device(device)
    body = package.dumps(package.build_package(device.door.sector, cursor, limit, raw=True))
    return HttpResponse(body, content_type="application/json")


@router.get("/device", auth=device_auth, summary="Who am I (device token)")
def get_device(request: HttpRequest):
    d: Device = request.auth
    return _json({"id": d.pk, "name": d.name, "kind": d.kind, "door": d.door.code, "sector": d.door.sector.code,
                  "organisation": d.organisation.code})


@router.post("/device/token/roll", auth=device_auth, summary="Replace this device's token (the old one dies)")
def roll_own_token(request: HttpRequest):
    return _json({"token": services.roll_device_token(request.auth)})


class EnrolIn(In):
    code: str


@router.post("/devices/enrol", auth=None, summary="Exchange a one-time enrolment code for a device token")
def enrol(request: HttpRequest, payload: EnrolIn):
    device, token = services.enrol_device(payload.code)
    return _json({"token": token, "device": device.name, "door": device.door.code,
                  "sector": device.door.sector.code, "organisation": device.organisation.code}, 201)


# ---------------------------------------------------------------- back office: places and devices

def _sector_out(s: Sector) -> dict[str, Any]:
    return {"id": s.pk, "code": s.code, "name": s.name, "reentry_allowed": s.reentry_allowed,
            "interface": ({"id": s.interface.pk, "name": s.interface.name, "type": s.interface.type}
                          if s.interface_id else None),
            "connector_options": s.connector_options,
            "admit_when_partner_unreachable": s.admit_when_partner_unreachable}


class SectorIn(In):
    code: str
    name: str
    reentry_allowed: bool = False
    interface: int | None = Field(None, description="id of the partner interface whose cards this sector "
                                                    "checks (e.g. an Otipass interface)")
    connector_options: dict[str, Any] | None = None
    admit_when_partner_unreachable: bool = True


class SectorPatch(In):
    name: str | None = None
    reentry_allowed: bool | None = None
    interface: int | None = Field(None, description="id of the partner interface; null unlinks it")
    connector_options: dict[str, Any] | None = None
    admit_when_partner_unreachable: bool | None = None


@router.get("/sectors")
def list_sectors(request: HttpRequest):
    actor = _actor(request, Permission.VIEW)
    sectors = Sector.objects.filter(organisation=actor.organisation).select_related("interface")
    return _json({"items": [_sector_out(s) for s in sectors]})


@router.post("/sectors")
def create_sector(request: HttpRequest, payload: SectorIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    fields = payload.dict()
    fields["interface"] = _interface(actor, fields["interface"])
    return _json(_sector_out(services.create_sector(actor, **fields)), 201)


@router.patch("/sectors/{code}")
def patch_sector(request: HttpRequest, code: str, payload: SectorPatch):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    sector = scoped_get(actor, Sector, "sector", code=code)
    fields = {k: v for k, v in payload.dict().items() if v is not None}
    if "interface" in payload.model_fields_set:
        fields["interface"] = _interface(actor, payload.interface)
    return _json(_sector_out(services.update_sector(actor, sector, **fields)))


def _interface(actor, interface_id: int | None):
    return None if interface_id is None else scoped_get(actor, Interface, "interface", pk=interface_id)


class DoorIn(In):
    sector: str
    code: str
    name: str


def _door_out(d: Door) -> dict[str, Any]:
    return {"id": d.pk, "code": d.code, "name": d.name, "sector": d.sector.code}


@router.get("/doors")
def list_doors(request: HttpRequest):
    actor = _actor(request, Permission.VIEW)
    return _json({"items": [_door_out(d) for d in Door.objects.filter(organisation=actor.organisation)
                            .select_related("sector")]})


@router.post("/doors")
def create_door(request: HttpRequest, payload: DoorIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    sector = scoped_get(actor, Sector, "sector", code=payload.sector)
    return _json(_door_out(services.create_door(actor, sector, payload.code, payload.name)), 201)


class DeviceIn(In):
    door: str
    name: str
    kind: Literal[tuple(DeviceKind.values)] = "SCANNER"  # type: ignore[valid-type]


def _device_out(d: Device) -> dict[str, Any]:
    return {"id": d.pk, "name": d.name, "kind": d.kind, "status": d.status, "door": d.door.code,
            "token_prefix": d.token_prefix or None, "enrolled_at": services._iso(d.enrolled_at, d.organisation_id),
            "revoked_at": services._iso(d.revoked_at, d.organisation_id),
            "last_seen_at": services._iso(d.last_seen_at, d.organisation_id)}


@router.get("/devices")
def list_devices(request: HttpRequest):
    actor = _actor(request, Permission.VIEW)
    return _json({"items": [_device_out(d) for d in Device.objects.filter(organisation=actor.organisation)
                            .select_related("door")]})


@router.post("/devices", summary="Create a device; the answer carries its one-time enrolment code")
def create_device(request: HttpRequest, payload: DeviceIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    door = scoped_get(actor, Door, "door", code=payload.door)
    device, code = services.create_device(actor, door, payload.name, payload.kind)
    return _json({**_device_out(device), "enrolment_code": code}, 201)


@router.post("/devices/{device_id}/roll", summary="Kill the device's token and issue a new enrolment code")
def roll_device(request: HttpRequest, device_id: int):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    device, code = services.reenrol_device(actor, scoped_get(actor, Device, "device", pk=device_id))
    return _json({**_device_out(device), "enrolment_code": code})


@router.post("/devices/{device_id}/reinstate", summary="Bring a revoked device back: a new enrolment code (audited)")
def reinstate_device(request: HttpRequest, device_id: int):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    device, code = services.reinstate_device(actor, scoped_get(actor, Device, "device", pk=device_id))
    return _json({**_device_out(device), "enrolment_code": code})


@router.post("/devices/{device_id}/revoke")
def revoke_device(request: HttpRequest, device_id: int):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    return _json(_device_out(services.revoke_device(actor, scoped_get(actor, Device, "device", pk=device_id))))


class RuleIn(In):
    sector: str
    product: int
    performance: int | None = None
    tariff: int | None = None
    category: int | None = None


def _rule_out(r: AccessRule) -> dict[str, Any]:
    return {"id": r.pk, "sector": r.sector.code, "product": r.product_id, "performance": r.performance_id,
            "tariff": r.tariff_id, "category": r.category_id}


@router.get("/rules")
def list_rules(request: HttpRequest):
    actor = _actor(request, Permission.VIEW)
    return _json({"items": [_rule_out(r) for r in AccessRule.objects.filter(organisation=actor.organisation)
                            .select_related("sector")]})


@router.post("/rules")
def create_rule(request: HttpRequest, payload: RuleIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    sector = scoped_get(actor, Sector, "sector", code=payload.sector)
    product = scoped_get(actor, Product, "product", pk=payload.product)
    perf = scoped_get(actor, Performance, "performance", pk=payload.performance) if payload.performance else None
    tariff = scoped_get(actor, Tariff, "tariff", pk=payload.tariff) if payload.tariff else None
    category = scoped_get(actor, Category, "category", pk=payload.category) if payload.category else None
    return _json(_rule_out(services.add_rule(actor, sector, product, perf, tariff, category)), 201)


@router.delete("/rules/{rule_id}")
def delete_rule(request: HttpRequest, rule_id: int):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    services.delete_rule(actor, scoped_get(actor, AccessRule, "rule", pk=rule_id))
    return HttpResponse(status=204)


class SettingsIn(In):
    signed_barcodes: bool


@router.put("/settings")
def put_settings(request: HttpRequest, payload: SettingsIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    obj = services.set_signed_barcodes(actor, payload.signed_barcodes)
    from . import signing
    return _json({"signed_barcodes": obj.signed_barcodes, "keys": signing.public_keys(actor.organisation.pk)})


# ---------------------------------------------------------------- scans, conflicts, attendance

class ScanFilter(Schema):
    decision: Literal[tuple(Decision.values)] | None = None  # type: ignore[valid-type]
    reason: Literal[tuple(Reason.values)] | None = None  # type: ignore[valid-type]
    device: int | None = None
    door: str | None = None
    barcode: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    conflict: bool | None = None
    cursor: str | None = None
    limit: int = 100


def _scan_out(s: Scan) -> dict[str, Any]:
    return {"id": s.pk, "barcode": s.barcode, "decision": s.decision, "reason": s.reason or None,
            "operation": s.operation, "direction": s.direction, "source": s.source,
            "device": s.device_id, "door": s.door.code if s.door_id else None,
            "sector": s.sector.code if s.sector_id else None, "scanned_at": services._iso(s.scanned_at, s.organisation_id),
            "received_at": services._iso(s.received_at, s.organisation_id), "conflict": s.conflict or None,
            "connector": s.connector or None, "postsync_status": s.postsync_status or None,
            "recorded_barcode": s.recorded_barcode or None}


@router.get("/scans", summary="Scans, newest first; filter by decision, reason, device, door, time, barcode")
def list_scans(request: HttpRequest, filters: Query[ScanFilter]):
    actor = _actor(request, Permission.VIEW)
    if not 1 <= filters.limit <= 1000:
        raise InvalidInput("page size out of range", field="limit", expected="1 to 1000", found=filters.limit)
    for name in ("decision", "reason", "door", "barcode"):
        value = getattr(filters, name)
        if value is not None and not value.isprintable():
            raise InvalidInput("control characters are not allowed here", field=name,
                               expected="printable text", found=repr(value)[:100])
    qs = Scan.objects.filter(organisation=actor.organisation).select_related("door", "sector")
    if filters.decision:
        qs = qs.filter(decision=filters.decision)
    if filters.reason:
        qs = qs.filter(reason=filters.reason)
    if filters.device:
        qs = qs.filter(device_id=filters.device)
    if filters.door:
        qs = qs.filter(door__code=filters.door)
    if filters.barcode:
        qs = qs.filter(barcode=filters.barcode.strip())
    if filters.since:
        qs = qs.filter(scanned_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(scanned_at__lt=filters.until)
    if filters.conflict is not None:
        qs = qs.exclude(conflict="") if filters.conflict else qs.filter(conflict="")
    before = decode_cursor(filters.cursor)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-id")[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return _json({"items": [_scan_out(s) for s in rows],
                  "next_cursor": encode_cursor(rows[-1].pk) if more and rows else None})


@router.get("/conflicts", summary="Conflicts found in offline or imported history")
def list_conflicts(request: HttpRequest, unresolved: bool = True):
    actor = _actor(request, Permission.VIEW)
    qs = ScanConflict.objects.filter(organisation=actor.organisation).select_related("sector", "performance")
    if unresolved:
        qs = qs.filter(resolved_at__isnull=True)
    return _json({"items": [{"id": c.pk, "kind": c.kind, "barcode": c.barcode, "scan": c.scan_id,
                             "other_scan": c.other_scan_id, "sector": c.sector.code if c.sector_id else None,
                             "performance": c.performance.code if c.performance_id else None,
                             "detail": c.detail, "detected_at": services._iso(c.detected_at, c.organisation_id),
                             "resolved_at": services._iso(c.resolved_at, c.organisation_id)} for c in qs[:1000]]})


@router.get("/attendance", summary="Per performance (or pass product) and sector: entered, inside, denied by reason")
def get_attendance(request: HttpRequest, performance: int | None = None):
    actor = _actor(request, Permission.VIEW)
    return _json({"items": attendance(actor.organisation, performance_id=performance)})


@router.get("/performances/{performance_id}/attendance",
            summary="One performance now: sold, entered, inside, denied by reason; per sector and per door")
def get_performance_attendance(request: HttpRequest, performance_id: int):
    actor = _actor(request, Permission.VIEW)
    perf = scoped_get(actor, Performance, field="performance_id", pk=performance_id)
    out = performance_attendance(actor.organisation, perf)
    for key in ("starts_at", "doors_open_at", "ends_at", "last_scan_at"):
        out[key] = services._iso(out[key], actor.organisation.pk)
    return _json(out)


# ---------------------------------------------------------------- lists and imports

@router.get("/lists/{kind}", summary="White or black list (JSON pages with a cursor, or ?format=csv)")
def get_list(request: HttpRequest, kind: str, cursor: str | None = None, limit: int = 1000, format: str = "json"):
    actor = request.auth
    if format == "csv":
        lists._check(actor, kind)
        response = StreamingHttpResponse(lists.csv_lines(actor, kind), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="{kind}list-{actor.organisation.code}-{stamp}.csv"'
        return response
    if format != "json":
        raise InvalidInput("unknown format", field="format", expected="json or csv", found=format)
    return _json(lists.page(actor, kind, cursor, limit))


class ControlsIn(In):
    controls: list[dict[str, Any]]


@router.post("/controls/import", summary="Controls made by a third-party gate (idempotent by reference)")
def import_controls(request: HttpRequest, payload: ControlsIn):
    return _json(services.import_controls(request.auth, payload.controls))


class ExternalIn(In):
    source: str
    barcodes: list[dict[str, Any]]


@router.post("/external-barcodes/import", summary="Import barcodes passgate did not issue (idempotent)")
def import_external(request: HttpRequest, payload: ExternalIn):
    return _json(services.import_external_barcodes(request.auth, payload.source, payload.barcodes))


class MappingIn(In):
    source: str
    season_code: str
    product_code: str
    tariff: int


@router.put("/external-mappings", summary="Map an external product code to a tariff")
def put_mapping(request: HttpRequest, payload: MappingIn):
    actor = _actor(request, Permission.MANAGE_ACCESS)
    tariff = scoped_get(actor, Tariff, "tariff", pk=payload.tariff)
    m = services.set_external_mapping(actor, payload.source, payload.season_code, payload.product_code, tariff)
    return _json({"id": m.pk, "source": m.source, "season_code": m.season_code, "product_code": m.product_code,
                  "tariff": m.tariff_id})


def _not_found(field: str, value: Any) -> NotFound:
    return NotFound(f"no such {field}", field=field, found=value)
