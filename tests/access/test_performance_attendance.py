"""The attendance of one performance: one service, shown by the API and by a page that reloads
itself; per sector and per door; another organisation sees nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from passgate.orgs.models import Membership, Role
from passgate.sales import services as sales

from .conftest import do_scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def evening(venue):
    a, b, c, d = venue.sell_tonight(4)
    do_scan(venue.device, a.barcode)
    do_scan(venue.device, b.barcode)
    do_scan(venue.device2, c.barcode)
    do_scan(venue.device2, a.barcode)  # ALREADY_CONTROLLED
    do_scan(venue.device, c.barcode, direction="EXIT")
    sales.cancel_ticket(venue.actor, d)
    do_scan(venue.device2, d.barcode)  # CANCELLED
    do_scan(venue.device2, "NO-SUCH-CODE")  # unknown: no performance, not counted here
    return venue


def test_attendance_of_a_performance_through_the_api(evening, api_client, other_api_client):
    perf = evening.tonight
    r = api_client.get(f"/api/v1/access/performances/{perf.pk}/attendance")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["sold"], body["entered"], body["inside"], body["denied"]) == (3, 3, 2, 2)
    assert body["denied_by_reason"] == {"ALREADY_CONTROLLED": 1, "CANCELLED": 1}
    doors = {d["door"]: d for d in body["doors"]}
    assert (doors["D1"]["entered"], doors["D1"]["exits"], doors["D1"]["denied"]) == (2, 1, 0)
    assert (doors["D2"]["entered"], doors["D2"]["denied"]) == (1, 2)
    (main,) = body["sectors"]
    assert (main["sector"], main["entered"], main["inside"]) == ("MAIN", 3, 2)
    assert body["starts_at"].endswith(("+01:00", "+02:00"))
    assert other_api_client.get(f"/api/v1/access/performances/{perf.pk}/attendance").status_code == 404


def test_attendance_page_reloads_itself(evening, org, other_org):
    user = get_user_model().objects.create_user("steward", password="pw", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ACCESS_CONTROL)
    client = Client()
    client.force_login(user)
    page = client.get(f"/admin/access/scan/attendance/{evening.tonight.pk}/").content.decode()
    assert '<meta http-equiv="refresh" content="10">' in page
    assert '<b id="entered">3</b>' in page and '<b id="inside">2</b>' in page
    assert "ALREADY_CONTROLLED: 1" in page and 'id="per-door"' in page and "<td>D2</td>" in page
    Membership.objects.filter(user=user).update(organisation=other_org)
    assert client.get(f"/admin/access/scan/attendance/{evening.tonight.pk}/").status_code == 404
