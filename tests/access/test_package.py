"""Offline packages: full, then increments from an opaque cursor; removals;
signed barcodes sold after the last download; no change missed while paging."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import ExternalBarcode
from passgate.access.offline import OfflineDevice
from passgate.access.package import build_package
from passgate.catalog import services as catalog
from passgate.catalog.models import Tariff
from passgate.errors import InvalidInput
from passgate.sales import services as sales
from passgate.sales.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db


def fetcher(sector):
    return lambda cursor, limit: build_package(sector, cursor, limit)


def truth(sector):
    """What a device of the sector must hold: live barcodes admitted by the rules."""
    rules = access.sector_rules(sector.pk)
    return {t.barcode for t in Ticket.objects.filter(organisation_id=sector.organisation_id,
                                                     status__in=[TicketStatus.NOT_PRINTED, TicketStatus.PRINTED])
            if access.rules_match(rules, t.product_id, t.performance_id, t.tariff_id, t.category_id)}


def test_full_then_incremental_with_removals(venue):
    tickets = venue.sell_tonight(7) + venue.sell_pass(3)
    device = OfflineDevice()
    pages = device.sync(fetcher(venue.sector), limit=3)
    assert pages >= 4 and set(device.valid) == {t.barcode for t in tickets}
    sales.cancel_ticket(venue.actor, tickets[0])
    old = tickets[1].barcode
    sales.print_ticket(venue.actor, tickets[1])
    sales.reprint_ticket(venue.actor, tickets[1])  # refreshes tickets[1]: new barcode
    new = venue.sell_tonight(2)
    page = build_package(venue.sector, device.cursor, 1000)
    assert page["mode"] == "delta" and page["complete"]
    removed = dict(map(tuple, page["removed"]))
    assert removed[tickets[0].barcode] == "CANCELLED" and removed[old] == "REPLACED"
    # the reprinted ticket once (current state, new barcode) and the 2 new ones
    assert sorted(r[0] for r in page["barcodes"]) == sorted([tickets[1].barcode] + [n.barcode for n in new])
    device.apply(page)
    assert set(device.valid) == truth(venue.sector)
    assert device.blocked[tickets[0].barcode] == "CANCELLED"
    assert {n.barcode for n in new} <= set(device.valid)
    # nothing new: an empty, complete increment with the same cursor
    again = build_package(venue.sector, device.cursor, 1000)
    assert again["barcodes"] == [] and again["removed"] == [] and again["next_cursor"] == device.cursor


def test_full_package_carries_block_list_and_policies(venue):
    t1, t2 = venue.sell_tonight(2)
    sales.cancel_ticket(venue.actor, t1)
    package = build_package(venue.sector, None, None)
    assert package["mode"] == "full" and package["complete"]
    assert [t2.barcode] == [row[0] for row in package["barcodes"]]
    assert [t1.barcode, "CANCELLED"] in package["removed"]
    product = package["products"][str(venue.catalogue.concert.pk)]
    assert product["single_entry"] is True
    assert package["performances"][str(venue.tonight.pk)]["ends_at"]
    assert package["columns"][0] == "barcode"


def test_rule_change_resets_the_device(venue, catalogue):
    device = OfflineDevice()
    venue.sell_tonight(2)
    device.sync(fetcher(venue.sector))
    access.delete_rule(venue.actor, venue.pass_rule)
    page = build_package(venue.sector, device.cursor)
    assert page["mode"] == "reset" and page["next_cursor"] is None
    device.apply(page)
    device.sync(fetcher(venue.sector))
    assert set(device.valid) == truth(venue.sector)


def test_cursor_of_another_sector_restarts_and_garbage_names_the_field(venue):
    other = access.create_sector(venue.actor, "OTHER", "Other")
    cursor = build_package(venue.sector, None)["next_cursor"]
    assert build_package(other, cursor)["mode"] == "full"
    with pytest.raises(InvalidInput) as exc:
        build_package(venue.sector, "garbage!")
    assert exc.value.field == "cursor"


def test_external_barcodes_in_package_and_mapping(venue, catalogue):
    access.set_external_mapping(venue.actor, "partner", "S26", "PASSX", catalogue.pass_tariff)
    result = access.import_external_barcodes(venue.actor, "partner", [
        {"barcode": "EXT-1", "season_code": "S26", "product_code": "PASSX"},
        {"barcode": "EXT-2", "season_code": "S26", "product_code": "UNMAPPED"},
    ])
    assert result == {"created": 2, "updated": 0, "unchanged": 0, "unmapped": ["S26/UNMAPPED"]}
    again = access.import_external_barcodes(venue.actor, "partner", [
        {"barcode": "EXT-1", "season_code": "S26", "product_code": "PASSX"}])
    assert again["unchanged"] == 1
    device = OfflineDevice()
    device.sync(fetcher(venue.sector))
    assert "EXT-1" in device.valid and "EXT-2" not in device.valid
    assert device.decide("EXT-1", timezone.now()) == ("GRANTED", "")
    ext = ExternalBarcode.objects.get(barcode="EXT-1")
    assert ext.tariff_id == catalogue.pass_tariff.pk
    access.block_external_barcode(venue.actor, ext, "LOST")
    device.apply(build_package(venue.sector, device.cursor))
    assert "EXT-1" not in device.valid and device.blocked["EXT-1"] == "BLOCKED"
    # online: an imported external barcode mapped to an allowed product is decided like a pass
    from .conftest import do_scan
    access.import_external_barcodes(venue.actor, "partner", [
        {"barcode": "EXT-3", "season_code": "S26", "product_code": "PASSX"}])
    assert do_scan(venue.device, "EXT-3")["decision"] == "GRANTED"
    assert do_scan(venue.device, "EXT-1")["reason"] == "BLOCKED"
    info = access.external_sale_info(venue.actor.organisation, "EXT-3")
    assert info["tariff"] == catalogue.pass_tariff and info["product_code"] == "PASSX"


def test_signed_barcodes_admit_a_ticket_sold_after_the_download(venue, catalogue):
    access.set_signed_barcodes(venue.actor, True)
    device = OfflineDevice()
    device.sync(fetcher(venue.sector))
    assert device.header["keys"] and device.header["keys"][0]["alg"] == "Ed25519"
    (card,) = venue.sell_pass()  # sold after the download
    assert card.barcode.startswith("S1") and len(card.barcode) <= 120
    assert card.barcode not in device.valid
    assert device.decide(card.barcode, timezone.now()) == ("GRANTED", "")
    forged = card.barcode[:-2] + ("AB" if card.barcode.endswith("AA") else "AA")
    assert device.decide(forged, timezone.now())[1] == "UNKNOWN_BARCODE"  # bad signature
    # the revocation list reaches the device through the increments
    (c2,) = venue.sell_pass()
    sales.cancel_ticket(venue.actor, c2)
    device.apply(build_package(venue.sector, device.cursor))
    assert device.decide(c2.barcode, timezone.now()) == ("DENIED", "CANCELLED")
    # online, signed barcodes are ordinary tickets
    from .conftest import do_scan
    (t,) = venue.sell_tonight()
    assert do_scan(venue.device, t.barcode)["decision"] == "GRANTED"
    # a rotated key still verifies old barcodes
    access.rotate_signing_key(venue.actor)
    (c3,) = venue.sell_pass()
    device.apply(build_package(venue.sector, device.cursor))
    assert device.decide(card.barcode, timezone.now() + dt.timedelta(minutes=1))[0] == "GRANTED"
    assert device.decide(c3.barcode, timezone.now())[0] == "GRANTED"


def test_signed_barcode_outside_its_window_or_sector(venue, catalogue):
    access.set_signed_barcodes(venue.actor, True)
    device = OfflineDevice()
    device.sync(fetcher(venue.sector))
    order = catalogue.sell_concert()  # next week
    barcode = order.tickets.get().barcode
    assert device.decide(barcode, timezone.now()) == ("DENIED", "NOT_YET_VALID")
    other_product = catalog.create(venue.actor, Tariff, product=catalogue.concert, code="X", name="X", price=1)
    assert other_product  # the concert product is admitted in MAIN: signature + product + window are enough


def test_package_over_http(venue):
    venue.sell_tonight(3)
    r = venue.client().get("/api/v1/access/package", {"limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "full" and len(body["barcodes"]) == 2 and not body["complete"]
    r = venue.client().get("/api/v1/access/package", {"cursor": body["next_cursor"], "limit": 2})
    assert len(r.json()["barcodes"]) == 1
    r = venue.client().get("/api/v1/access/package", {"limit": 0})
    assert r.status_code == 400 and r.json()["field"] == "limit"


def test_raw_package_is_the_same_package(venue, catalogue):
    """The fast path (rows rendered by PostgreSQL) serialises to the same package."""
    import json

    from passgate.access.package import dumps

    tickets = venue.sell_tonight(5) + venue.sell_pass(2)
    sales.cancel_ticket(venue.actor, tickets[0])
    access.import_external_barcodes(venue.actor, "partner", [
        {"barcode": "EXT-1", "season_code": "S26", "product_code": "P"}])
    do = __import__("passgate.access.services", fromlist=["scan"])
    from .conftest import nonce
    do.scan(venue.device, tickets[1].barcode, nonce())  # first_controlled_at set on one row
    for limit in (None, 3):
        plain = build_package(venue.sector, None, limit)
        raw = json.loads(dumps(build_package(venue.sector, None, limit, raw=True)))
        for key in ("barcodes", "removed", "next_cursor", "complete", "mode"):
            left = sorted(map(json.dumps, plain[key])) if isinstance(plain[key], list) else plain[key]
            right = sorted(map(json.dumps, raw[key])) if isinstance(raw[key], list) else raw[key]
            if key == "barcodes":  # timestamps: same instant, maybe another ISO spelling
                left = sorted((r[0], r[1:7], r[8:]) for r in plain[key])
                right = sorted((r[0], r[1:7], r[8:]) for r in raw[key])
            assert left == right, key


def test_pruned_change_log_resets_old_cursors(venue):
    import datetime as dt

    from passgate.access.changes import prune
    from passgate.access.models import AccessChange

    venue.sell_tonight(2)
    device = OfflineDevice()
    device.sync(fetcher(venue.sector))
    old_cursor = device.cursor
    (t,) = venue.sell_tonight(1)
    AccessChange.objects.update(at=timezone.now() - dt.timedelta(days=40))
    aged = AccessChange.objects.filter(organisation=venue.actor.organisation).count()
    assert prune(venue.actor.organisation.pk) == aged and not AccessChange.objects.exists()
    assert build_package(venue.sector, old_cursor)["mode"] == "reset"
    device.sync(fetcher(venue.sector))
    assert t.barcode in device.valid and set(device.valid) == truth(venue.sector)
    # a cursor taken after the pruning is served as usual
    (t2,) = venue.sell_tonight(1)
    page = build_package(venue.sector, device.cursor)
    assert page["mode"] == "delta" and [r[0] for r in page["barcodes"]] == [t2.barcode]


NASTY_NAMES = ['@@raw-barcodes@@', '"@@raw-removed@@"', 'Quote " and back\\slash', '</script><script>alert(1)</script>',
               'Ünïcode \u2028 line']


def test_package_json_survives_any_product_name(venue, catalogue):
    import json

    from passgate.access.package import RawJSON, dumps
    from passgate.catalog.models import Family, Product

    for i, name in enumerate(NASTY_NAMES):
        product = catalog.create(venue.actor, Product, season=catalogue.season, code=f"N{i}", name=name,
                                 family=Family.OPEN_PASS)
        tariff = catalog.create(venue.actor, Tariff, product=product, code="T", name=name, price=1)
        access.add_rule(venue.actor, venue.sector, product)
        sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[
            sales.SaleLine(product=product, tariff=tariff, quantity=2)]))
    (cancelled,) = venue.sell_tonight()
    sales.cancel_ticket(venue.actor, cancelled)
    body = json.loads(dumps(build_package(venue.sector, None, None, raw=True)))  # raw rows on PostgreSQL
    names = {p["name"] for p in body["products"].values()}
    assert set(NASTY_NAMES) <= names
    assert len(body["barcodes"]) == 2 * len(NASTY_NAMES) and body["removed"] == [[cancelled.barcode, "CANCELLED"]]
    # the same with rows rendered as JSON text, whatever the database
    package = {"products": {"1": {"name": "@@raw-barcodes@@"}, "2": {"name": '"@@raw-removed@@"'}},
               "barcodes": [["B0", 1], RawJSON('[["B1",1],["B2",2]]'), RawJSON("[]")],
               "removed": [RawJSON('[["B3","CANCELLED"]]')]}
    assert json.loads(dumps(package)) == {
        "products": {"1": {"name": "@@raw-barcodes@@"}, "2": {"name": '"@@raw-removed@@"'}},
        "barcodes": [["B0", 1], ["B1", 1], ["B2", 2]], "removed": [["B3", "CANCELLED"]]}
    # and over HTTP
    r = venue.client().get("/api/v1/access/package")
    assert r.status_code == 200 and set(NASTY_NAMES) <= {p["name"] for p in r.json()["products"].values()}
