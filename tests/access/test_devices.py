"""A revoked device stays revoked: no token roll, no re-enrolment, unless reinstated on purpose
(audited) — through the service, the admin action and the API."""

from __future__ import annotations

import pytest

from passgate.access import services as access
from passgate.access.models import Device, DeviceStatus
from passgate.errors import Conflict
from passgate.orgs.models import AuditEntry
from passgate.orgs.services import ensure_user

pytestmark = pytest.mark.django_db


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def test_revoked_device_cannot_roll_its_token_nor_be_reenrolled(venue):
    device = Device.objects.get(pk=venue.device.pk)
    access.revoke_device(venue.actor, device)
    with pytest.raises(access.DeviceRevokedConflict) as caught:
        access.roll_device_token(device)
    assert caught.value.http_status == 409 and caught.value.found == "status REVOKED"
    with pytest.raises(access.DeviceRevokedConflict) as caught:
        access.reenrol_device(venue.actor, Device.objects.get(pk=device.pk))
    assert caught.value.field == "device" and "REVOKED" in caught.value.found
    device.refresh_from_db()
    assert device.status == DeviceStatus.REVOKED and device.enrolment_code_hash is None


def test_reinstate_is_the_one_way_back_and_is_audited(venue):
    device = Device.objects.get(pk=venue.device.pk)
    with pytest.raises(Conflict):
        access.reinstate_device(venue.actor, device)  # not revoked: nothing to reinstate
    access.revoke_device(venue.actor, device)
    device, code = access.reinstate_device(venue.actor, Device.objects.get(pk=device.pk))
    assert device.status == DeviceStatus.PENDING
    assert access.authenticate_device(venue.token) is None  # the old token stays dead
    enrolled, token = access.enrol_device(code)
    assert enrolled.pk == device.pk and access.authenticate_device(token).status == DeviceStatus.ACTIVE
    assert AuditEntry.objects.filter(action="reinstate").exists()


def test_reinstate_over_http_and_roll_refused(api_client, venue):
    access.revoke_device(venue.actor, Device.objects.get(pk=venue.device.pk))
    r = post(api_client, f"/api/v1/access/devices/{venue.device.pk}/roll")
    assert r.status_code == 409 and r.json()["code"] == "device_revoked" and "REVOKED" in r.json()["found"]
    r = post(api_client, f"/api/v1/access/devices/{venue.device.pk}/reinstate")
    assert r.status_code == 200 and r.json()["status"] == "PENDING" and r.json()["enrolment_code"]
    r = post(api_client, f"/api/v1/access/devices/{venue.device.pk}/reinstate")
    assert r.status_code == 409 and r.json()["code"] == "device_not_revoked"


def test_reinstate_admin_action(venue):
    from django.test import Client

    admin_client_ = Client()
    admin_client_.force_login(ensure_user("boss", "pw-boss-123", superuser=True))
    access.revoke_device(venue.actor, Device.objects.get(pk=venue.device.pk))
    r = admin_client_.post("/admin/access/device/", {"action": "roll_devices", "_selected_action": [venue.device.pk]},
                           follow=True)
    assert "is revoked" in r.content.decode()
    assert Device.objects.get(pk=venue.device.pk).status == DeviceStatus.REVOKED
    r = admin_client_.post("/admin/access/device/", {"action": "reinstate_devices",
                                                     "_selected_action": [venue.device.pk]}, follow=True)
    assert "reinstated; enrolment code" in r.content.decode()
    assert Device.objects.get(pk=venue.device.pk).status == DeviceStatus.PENDING
