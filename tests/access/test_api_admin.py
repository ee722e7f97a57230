"""Back-office API: places, devices (enrol, roll, revoke), rules, lists, imports, tenancy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import Scan
from passgate.orgs.models import Role
from passgate.sales import services as sales

from .conftest import do_scan

pytestmark = pytest.mark.django_db


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_enrol_scan_roll_revoke_over_http(api_client, catalogue):
    assert post(api_client, "/api/v1/access/sectors", {"code": "HALL", "name": "Hall"}).status_code == 201
    r = post(api_client, "/api/v1/access/sectors", {"code": "HALL", "name": "Again"})
    assert r.status_code == 400 and r.json()["field"] == "code" and r.json()["code"] == "duplicate"
    assert post(api_client, "/api/v1/access/doors", {"sector": "HALL", "code": "H1", "name": "H1"}).status_code == 201
    r = post(api_client, "/api/v1/access/doors", {"sector": "NOPE", "code": "H2", "name": "H2"})
    assert r.status_code == 404 and r.json()["field"] == "sector"
    r = post(api_client, "/api/v1/access/rules", {"sector": "HALL", "product": catalogue.pass_product.pk})
    assert r.status_code == 201
    r = post(api_client, "/api/v1/access/devices", {"door": "H1", "name": "gate-1"})
    assert r.status_code == 201
    device_id, code = r.json()["id"], r.json()["enrolment_code"]
    from django.test import Client

    anonymous = Client()
    r = post(anonymous, "/api/v1/access/devices/enrol", {"code": code})
    assert r.status_code == 201 and r.json()["door"] == "H1"
    token = r.json()["token"]
    r = post(anonymous, "/api/v1/access/devices/enrol", {"code": code})  # one time only
    assert r.status_code == 403 and r.json()["field"] == "code"
    device_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    card = catalogue.sell_pass().tickets.get()
    r = post(device_client, "/api/v1/access/scans", {"barcode": card.barcode, "nonce": "1"})
    assert r.json()["decision"] == "GRANTED"
    # the device rolls its own token: the old one stops at once
    new_token = post(device_client, "/api/v1/access/device/token/roll", {}).json()["token"]
    assert post(device_client, "/api/v1/access/scans", {"barcode": "X", "nonce": "2"}).status_code == 401
    device_client = Client(HTTP_AUTHORIZATION=f"Bearer {new_token}")
    assert device_client.get("/api/v1/access/device").json()["name"] == "gate-1"
    # the back office rolls it: token dead, new enrolment code
    r = post(api_client, f"/api/v1/access/devices/{device_id}/roll", {})
    assert r.json()["status"] == "PENDING"
    assert device_client.get("/api/v1/access/device").status_code == 401
    token = post(anonymous, "/api/v1/access/devices/enrol", {"code": r.json()["enrolment_code"]}).json()["token"]
    device_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert device_client.get("/api/v1/access/device").status_code == 200
    assert post(api_client, f"/api/v1/access/devices/{device_id}/revoke", {}).json()["status"] == "REVOKED"
    r = device_client.get("/api/v1/access/device")
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def test_tenancy_and_roles(venue, api_client, other_api_client, admin_actor):
    from passgate.api import api  # noqa: F401 - routers mounted

    assert post(other_api_client, f"/api/v1/access/devices/{venue.device.pk}/revoke", {}).status_code == 404
    assert other_api_client.get("/api/v1/access/sectors").json()["items"] == []
    assert api_client.get("/api/v1/access/sectors").json()["items"][0]["code"] == "MAIN"
    from .conftest import role_client

    reader = role_client(admin_actor, Role.READ_ONLY)
    r = post(reader, "/api/v1/access/sectors", {"code": "X", "name": "X"})
    assert r.status_code == 403
    r = reader.get("/api/v1/access/lists/white")
    assert r.status_code == 403


def test_scans_listing_filters(venue, api_client):
    (t,) = venue.sell_tonight()
    do_scan(venue.device, t.barcode)
    do_scan(venue.device2, t.barcode)
    do_scan(venue.device, "UNKNOWN")
    items = api_client.get("/api/v1/access/scans").json()["items"]
    assert len(items) == 3
    assert [i["reason"] for i in api_client.get("/api/v1/access/scans?decision=DENIED").json()["items"]] == [
        "UNKNOWN_BARCODE", "ALREADY_CONTROLLED"]
    assert len(api_client.get(f"/api/v1/access/scans?barcode={t.barcode}").json()["items"]) == 2
    assert len(api_client.get("/api/v1/access/scans?door=D2").json()["items"]) == 1
    assert len(api_client.get(f"/api/v1/access/scans?device={venue.device.pk}").json()["items"]) == 2
    page = api_client.get("/api/v1/access/scans?limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api_client.get(f"/api/v1/access/scans?limit=2&cursor={page['next_cursor']}").json()
    assert len(rest["items"]) == 1
    r = api_client.get("/api/v1/access/scans?since=yesterday")
    assert r.status_code == 422 and r.json()["field"] == "since"
    att = api_client.get("/api/v1/access/attendance").json()["items"]
    assert any(a["performance"] == "TONIGHT" and a["entered"] == 1 for a in att)


def test_white_and_black_lists_json_and_csv(venue, api_client, catalogue):
    tickets = venue.sell_tonight(3)
    sales.cancel_ticket(venue.actor, tickets[0])
    sales.print_ticket(venue.actor, tickets[1])
    old = tickets[1].barcode
    sales.reprint_ticket(venue.actor, tickets[1])
    access.set_external_mapping(venue.actor, "partner", "S26", "PX", catalogue.pass_tariff)
    access.import_external_barcodes(venue.actor, "partner", [{"barcode": "EXT-9", "season_code": "S26",
                                                              "product_code": "PX"}])
    page = api_client.get("/api/v1/access/lists/white?limit=1").json()
    seen = [i["barcode"] for i in page["items"]]
    while page["next_cursor"]:
        page = api_client.get(f"/api/v1/access/lists/white?limit=1&cursor={page['next_cursor']}").json()
        seen += [i["barcode"] for i in page["items"]]
    assert sorted(seen) == sorted([tickets[1].barcode, tickets[2].barcode, "EXT-9"])
    r = api_client.get("/api/v1/access/lists/white?format=csv")
    lines = b"".join(r.streaming_content).decode().splitlines()
    assert lines[0] == "barcode;season_code;product_code;category_code;tariff_code;validity_date"
    row = next(line for line in lines if line.startswith(tickets[2].barcode))
    assert row.split(";")[1:5] == ["S26", "CONCERT", "CAT1", "FULL"] and row.split(";")[5]
    r = api_client.get("/api/v1/access/lists/black?format=csv")
    lines = b"".join(r.streaming_content).decode().splitlines()
    assert lines[0] == "barcode;reason;season_code;product_code;blacklist_date"
    reasons = {line.split(";")[0]: line.split(";")[1] for line in lines[1:]}
    assert reasons == {tickets[0].barcode: "CANCELLED", old: "REPLACED"}
    black = api_client.get("/api/v1/access/lists/black").json()
    assert {i["barcode"] for i in black["items"]} == {tickets[0].barcode, old}
    r = api_client.get("/api/v1/access/lists/grey")
    assert r.status_code == 400 and r.json()["field"] == "kind"
    r = api_client.get("/api/v1/access/lists/white?cursor=nonsense")
    assert r.status_code == 400 and r.json()["field"] == "cursor"


def test_controls_import_is_idempotent_and_flags_conflicts(venue, api_client):
    t1, t2 = venue.sell_tonight(2)
    at = (timezone.now() - dt.timedelta(minutes=3)).isoformat()
    controls = [{"barcode": t1.barcode, "controlled_at": at, "scanned_at": at, "reference": "gate7-001",
                 "gate": "gate 7", "sector": "MAIN"},
                {"barcode": t2.barcode, "scanned_at": at, "reference": "gate7-002", "gate": "gate 7"}]
    r = post(api_client, "/api/v1/access/controls/import", {"controls": controls})
    assert r.status_code == 200 and r.json()["recorded"] == 2
    r = post(api_client, "/api/v1/access/controls/import", {"controls": controls})
    assert r.json() == {"recorded": 0, "duplicates": 2, "conflicts": []}
    assert Scan.objects.filter(source="IMPORT").count() == 2
    assert do_scan(venue.device, t1.barcode)["reason"] == "ALREADY_CONTROLLED"
    r = post(api_client, "/api/v1/access/controls/import", {"controls": [
        {"barcode": t1.barcode, "scanned_at": at, "reference": "gate7-003"}]})
    assert [c["kind"] for c in r.json()["conflicts"]] == ["DOUBLE_ENTRY"]
    r = post(api_client, "/api/v1/access/controls/import", {"controls": [{"barcode": "X", "scanned_at": at}]})
    assert r.status_code == 400 and r.json()["field"] == "controls[0].reference"


def test_external_barcodes_over_http(venue, api_client, catalogue):
    r = api_client.put("/api/v1/access/external-mappings", {"source": "otipass", "season_code": "DDMM23",
                                                            "product_code": "PASSTOU",
                                                            "tariff": catalogue.pass_tariff.pk},
                       content_type="application/json")
    assert r.status_code == 200
    body = {"source": "otipass", "barcodes": [{"barcode": "OT-1", "season_code": "DDMM23",
                                               "product_code": "PASSTOU"}]}
    assert post(api_client, "/api/v1/access/external-barcodes/import", body).json()["created"] == 1
    assert post(api_client, "/api/v1/access/external-barcodes/import", body).json()["unchanged"] == 1
    bad = {"source": "otipass", "barcodes": [{"barcode": "OT-2", "season_code": "DDMM23"}]}
    r = post(api_client, "/api/v1/access/external-barcodes/import", bad)
    assert r.status_code == 400 and r.json()["field"] == "barcodes[0].product_code"


def test_signed_barcode_setting_over_http(api_client, venue):
    r = api_client.put("/api/v1/access/settings", {"signed_barcodes": True}, content_type="application/json")
    assert r.status_code == 200 and r.json()["keys"][0]["alg"] == "Ed25519"
    (t,) = venue.sell_tonight()
    assert t.barcode.startswith("S1")
