"""Back-office pages render and act through the services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import Device, DeviceStatus
from passgate.orgs.services import ensure_user

from .conftest import do_scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(venue):
    user = ensure_user("boss", "pw-boss-123", superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_admin_pages(admin_client_, venue):
    (t,) = venue.sell_tonight()
    do_scan(venue.device, t.barcode)
    do_scan(venue.device2, t.barcode)
    access.upload_offline(venue.device2, [{"barcode": t.barcode, "nonce": "x1", "decision": "GRANTED",
                                           "scanned_at": timezone.now().isoformat()}])
    for url in ["/admin/access/sector/", "/admin/access/door/", "/admin/access/device/", "/admin/access/accessrule/",
                "/admin/access/scan/", "/admin/access/scan/?decision__exact=DENIED&q=" + t.barcode,
                "/admin/access/scan/attendance/", "/admin/access/scanconflict/",
                "/admin/access/scanconflict/reconciliation/", "/admin/access/externalbarcode/",
                "/admin/access/device/add/", "/admin/access/sector/add/"]:
        r = admin_client_.get(url)
        assert r.status_code == 200, url
    page = admin_client_.get("/admin/access/scanconflict/reconciliation/").content.decode()
    assert "DOUBLE_ENTRY" in page and "TONIGHT" in page and t.barcode in page
    page = admin_client_.get("/admin/access/scan/attendance/").content.decode()
    assert "ALREADY_CONTROLLED" in page


def test_admin_enrol_roll_revoke(admin_client_, venue):
    r = admin_client_.post("/admin/access/device/add/", {"organisation": venue.actor.organisation.pk,
                                                         "door": venue.door.pk, "name": "new-scanner",
                                                         "kind": "SCANNER"}, follow=True)
    assert r.status_code == 200
    assert "Enrolment code" in r.content.decode()
    device = Device.objects.get(name="new-scanner")
    assert device.status == DeviceStatus.PENDING
    r = admin_client_.post("/admin/access/device/", {"action": "revoke_devices", "_selected_action": [venue.device.pk]},
                           follow=True)
    assert r.status_code == 200
    venue.device.refresh_from_db()
    assert venue.device.status == DeviceStatus.REVOKED
    r = admin_client_.post("/admin/access/device/", {"action": "roll_devices", "_selected_action": [venue.device2.pk]},
                           follow=True)
    assert "New enrolment code" in r.content.decode()
    assert access.authenticate_device(venue.token2) is None
