"""Devices: enrolment, tokens (issue, roll, revoke) and authentication."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import connection, transaction
from django.utils import timezone

from passgate.errors import Conflict, Forbidden, InvalidInput
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    record_audit,
    snapshot,
    update_scoped,
)

from .. import cache
from ..models import (
    Device,
    DeviceStatus,
    Door,
)
from .inputs import DEVICE_TOKEN_PREFIX, ENROLMENT_TTL, LAST_SEEN_RESOLUTION, hash_secret


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



def update_device(actor: Actor, device: Device, **fields) -> Device:
    """Rename a device, change its kind or move it to another door of the organisation (audited).
    Its status and token change only through enrol, roll, revoke and reinstate."""
    fields.pop("status", None)
    return update_scoped(actor, device, Permission.MANAGE_ACCESS, **fields)

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


class DeviceRevokedConflict(Conflict):
    """A revoked device stays revoked: rolling or re-enrolling it is refused (reinstate_device is the
    one, audited, way back)."""

    code = "device_revoked"


def _refuse_revoked(device: Device, what: str) -> None:
    if device.status == DeviceStatus.REVOKED:
        raise DeviceRevokedConflict(
            f"device {device.name} is revoked: it cannot be {what}", field="device",
            expected="an active or pending device (reinstate a revoked device first, explicitly)",
            found=f"status {device.status}")


def reenrol_device(actor: Actor, device: Device) -> tuple[Device, str]:
    """'Roll' from the back office: the current token dies now; a new enrolment code is issued.
    Refused for a revoked device (see reinstate_device)."""
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"device": device})
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        _refuse_revoked(device, "re-enrolled")
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


def reinstate_device(actor: Actor, device: Device) -> tuple[Device, str]:
    """Bring a revoked device back, deliberately: it gets a new enrolment code (its old token stays
    dead) and the reinstatement is audited."""
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"device": device})
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        if device.status != DeviceStatus.REVOKED:
            raise Conflict("only a revoked device can be reinstated", field="device", code="device_not_revoked",
                           expected="a revoked device", found=f"status {device.status}")
        before = snapshot(device)
        code = _new_enrolment(device)
        device.token_hash = None
        device.token_prefix = ""
        device.status = DeviceStatus.PENDING
        device.revoked_at = None
        device.save()
        record_audit(actor, "reinstate", device, before, snapshot(device))
    return device, code


def roll_device_token(device: Device) -> str:
    """The device replaces its own token (the old one stops working at once)."""
    with transaction.atomic():
        device = Device.objects.select_related("organisation").get(pk=device.pk)  # auth holds a partial row
        _refuse_revoked(device, "given a new token")
        before = snapshot(device)
        token = _issue_token(device)
        device.token_rolled_at = timezone.now()
        updated = Device.objects.filter(pk=device.pk, status=DeviceStatus.ACTIVE).update(
            token_hash=device.token_hash, token_prefix=device.token_prefix, token_rolled_at=device.token_rolled_at)
        if not updated:
            status = Device.objects.filter(pk=device.pk).values_list("status", flat=True).first()
            raise DeviceRevokedConflict(f"device {device.name} is not active: its token cannot be rolled",
                                        field="Authorization", expected="an active device",
                                        found=f"status {status}")
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
