"""Online scan decisions: every reason code, idempotency, entry policy, query budget."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from passgate.access import services as access
from passgate.access.models import Decision, Operation, Reason, Scan
from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Performance, Product, Tariff
from passgate.sales import services as sales
from passgate.sales.models import Ticket

from .conftest import do_scan, nonce

pytestmark = pytest.mark.django_db


def test_granted_then_already_controlled_with_when_and_door(venue):
    (ticket,) = venue.sell_tonight()
    first = do_scan(venue.device, ticket.barcode)
    assert first["decision"] == "GRANTED" and first["reason"] is None and first["operation"] == "OK"
    assert first["ticket"]["product"] == "CONCERT" and first["ticket"]["tariff"] == "FULL"
    assert first["ticket"]["category"] == "CAT1" and first["ticket"]["entries"] == 1
    second = do_scan(venue.device2, ticket.barcode)
    assert second["decision"] == "DENIED" and second["reason"] == "ALREADY_CONTROLLED"
    assert second["previous"]["door"] == "D1" and second["previous"]["at"]
    assert "D1" in second["message"]
    ticket.refresh_from_db()
    assert ticket.control_count == 1 and ticket.inside and ticket.last_controlled_at
    assert Scan.objects.filter(ticket=ticket).count() == 2  # denied scans are recorded too


def test_steward_sees_the_holder(venue, catalogue):
    buyer = sales.create_contact(venue.actor, first_name="Ada", last_name="Lovelace")
    holder = sales.create_contact(venue.actor, first_name="Grace", last_name="Hopper")
    (t1,) = venue.sell_tonight(buyer=buyer)
    assert do_scan(venue.device, t1.barcode)["ticket"]["holder"] == "Ada Lovelace"
    line = sales.SaleLine(product=catalogue.concert, tariff=catalogue.full_price, performance=venue.tonight,
                          seat="R1-7", cultural_contact=holder)
    t2 = sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line],
                                                   buyer=buyer)).tickets.get()
    answer = do_scan(venue.device, t2.barcode)
    assert answer["ticket"]["holder"] == "Grace Hopper" and answer["ticket"]["seat"] == "R1-7"
    (t3,) = venue.sell_tonight()
    assert do_scan(venue.device, t3.barcode)["ticket"]["holder"] == ""


def test_unknown_barcode(venue):
    answer = do_scan(venue.device, "NOPE-123")
    assert answer["decision"] == "DENIED" and answer["reason"] == "UNKNOWN_BARCODE"
    assert answer["operation"] == "FAIL"
    assert Scan.objects.get(pk=answer["scan_id"]).barcode == "NOPE-123"


def test_cancelled_and_invalidated(venue):
    t1, t2 = venue.sell_tonight(2)
    sales.cancel_ticket(venue.actor, t1)
    sales.invalidate_ticket(venue.actor, t2)
    a1 = do_scan(venue.device, t1.barcode)
    a2 = do_scan(venue.device, t2.barcode)
    assert (a1["reason"], a1["operation"]) == ("CANCELLED", "CANCELLED_TICKET")
    assert (a2["reason"], a2["operation"]) == ("INVALIDATED", "INVALIDATED_TICKET")


def test_replaced_barcode_is_invalidated(venue):
    (ticket,) = venue.sell_tonight()
    sales.print_ticket(venue.actor, ticket)
    old = ticket.barcode
    ticket = sales.reprint_ticket(venue.actor, ticket)
    answer = do_scan(venue.device, old)
    assert answer["reason"] == "INVALIDATED" and "reprint" in answer["message"]
    assert do_scan(venue.device, ticket.barcode)["decision"] == "GRANTED"


def test_wrong_sector(venue, catalogue):
    other = access.create_sector(venue.actor, "VIP", "VIP lounge")
    door = access.create_door(venue.actor, other, "V1", "VIP door")
    device, token = venue.enrol(door, "VIP-1")
    (ticket,) = venue.sell_tonight()
    assert do_scan(device, ticket.barcode)["reason"] == "WRONG_SECTOR"
    # a rule narrowed to a tariff the ticket does not have
    cheap = catalog.create(venue.actor, Tariff, product=catalogue.concert, code="CHEAP", name="Cheap", price=5)
    access.add_rule(venue.actor, other, catalogue.concert, tariff=cheap)
    assert do_scan(device, ticket.barcode)["reason"] == "WRONG_SECTOR"
    access.add_rule(venue.actor, other, catalogue.concert, performance=venue.tonight)
    assert do_scan(device, ticket.barcode)["decision"] == "GRANTED"


def test_not_yet_valid_and_expired(venue, catalogue):
    order = catalogue.sell_concert()  # next week's performance
    assert do_scan(venue.device, order.tickets.get().barcode)["reason"] == "NOT_YET_VALID"
    now = timezone.now()
    past = catalog.create(venue.actor, Performance, product=catalogue.concert, code="PAST", name="Last week",
                          starts_at=now - dt.timedelta(days=7), ends_at=now - dt.timedelta(days=7, hours=-3))
    line = sales.SaleLine(product=catalogue.concert, tariff=catalogue.full_price, performance=past)
    old = sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line])).tickets.get()
    assert do_scan(venue.device, old.barcode)["reason"] == "EXPIRED"


def test_doors_open_boundary(venue):
    (ticket,) = venue.sell_tonight()
    opens = venue.tonight.doors_open_at
    early = access.scan(venue.device, ticket.barcode, nonce(), now=opens - dt.timedelta(seconds=1))
    assert early["reason"] == "NOT_YET_VALID"
    assert access.scan(venue.device, ticket.barcode, nonce(), now=opens)["decision"] == "GRANTED"


def test_open_pass_many_entries_then_expires_from_first_control(venue):
    (card,) = venue.sell_pass()
    t0 = timezone.now()
    for i in range(3):
        a = access.scan(venue.device, card.barcode, nonce(), now=t0 + dt.timedelta(hours=i))
        assert a["decision"] == "GRANTED", a
    assert a["ticket"]["entries"] == 3
    late = access.scan(venue.device, card.barcode, nonce(), now=t0 + dt.timedelta(hours=49))
    assert late["reason"] == "EXPIRED"


def test_pass_limits_total_and_per_day(venue, catalogue):
    limited = catalog.create(venue.actor, Product, season=catalogue.season, code="TWICE", name="Twice a day",
                             family=Family.OPEN_PASS, max_controls=3, max_controls_per_day=2)
    tariff = catalog.create(venue.actor, Tariff, product=limited, code="T", name="T", price=1)
    access.add_rule(venue.actor, venue.sector, limited)
    line = sales.SaleLine(product=limited, tariff=tariff)
    card = sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line])).tickets.get()
    day1 = timezone.now().replace(hour=10)
    assert access.scan(venue.device, card.barcode, nonce(), now=day1)["decision"] == "GRANTED"
    assert access.scan(venue.device, card.barcode, nonce(), now=day1)["decision"] == "GRANTED"
    assert access.scan(venue.device, card.barcode, nonce(), now=day1)["reason"] == "DAILY_LIMIT_REACHED"
    day2 = day1 + dt.timedelta(days=1)
    assert access.scan(venue.device, card.barcode, nonce(), now=day2)["decision"] == "GRANTED"
    assert access.scan(venue.device, card.barcode, nonce(), now=day2)["reason"] == "MAX_CONTROLS_REACHED"
    assert Ticket.objects.get(pk=card.pk).control_count == 3


def test_exit_and_reentry_is_a_sector_choice(venue):
    t1, t2 = venue.sell_tonight(2)
    assert do_scan(venue.device, t1.barcode)["decision"] == "GRANTED"
    out = do_scan(venue.device, t1.barcode, direction="EXIT")
    assert out["decision"] == "GRANTED" and out["reason"] is None
    assert not Ticket.objects.get(pk=t1.pk).inside
    assert do_scan(venue.device, t1.barcode)["reason"] == "ALREADY_CONTROLLED"  # no re-entry here
    access.update_sector(venue.actor, venue.sector, reentry_allowed=True)
    venue.device.door.sector.refresh_from_db()
    assert do_scan(venue.device, t1.barcode)["decision"] == "GRANTED"  # re-entry after the exit
    assert do_scan(venue.device, t1.barcode)["reason"] == "ALREADY_CONTROLLED"  # inside: not twice
    assert do_scan(venue.device, t2.barcode, direction="EXIT")["reason"] == "NOT_INSIDE"


def test_idempotent_by_device_and_nonce(venue):
    (ticket,) = venue.sell_tonight()
    n = nonce()
    first = access.scan(venue.device, ticket.barcode, n)
    again = access.scan(venue.device, ticket.barcode, n)
    assert again == first and first["decision"] == "GRANTED"
    assert Scan.objects.filter(device=venue.device).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).control_count == 1
    # the same nonce from another device is another scan
    assert access.scan(venue.device2, ticket.barcode, n)["reason"] == "ALREADY_CONTROLLED"


def test_idempotent_replay_of_a_multi_entry_pass_counts_once(venue):
    (card,) = venue.sell_pass()
    n = nonce()
    assert access.scan(venue.device, card.barcode, n)["decision"] == "GRANTED"
    assert access.scan(venue.device, card.barcode, n)["ticket"]["entries"] == 1
    assert Ticket.objects.get(pk=card.pk).control_count == 1


def test_other_organisations_barcode_is_unknown(venue, other_catalogue):
    order = other_catalogue.sell_pass()
    assert do_scan(venue.device, order.tickets.get().barcode)["reason"] == "UNKNOWN_BARCODE"


def test_query_budget_is_fixed(venue, django_assert_max_num_queries, settings):
    settings.ACCESS_CACHE_SECONDS = 5  # as in production (the test runner turns the cache off)
    tickets = venue.sell_tonight(50)
    token = venue.token
    # warm up (content types etc.), then a scan of one ticket among 50, and among 50 + 100
    access.scan(access.authenticate_device(token), tickets[0].barcode, nonce())
    with django_assert_max_num_queries(7) as ctx:
        device = access.authenticate_device(token)
        assert access.scan(device, tickets[1].barcode, nonce())["decision"] == "GRANTED"
    first = len(ctx.captured_queries)
    venue.sell_tonight(100)
    with django_assert_max_num_queries(first):
        device = access.authenticate_device(token)
        assert access.scan(device, tickets[2].barcode, nonce())["decision"] == "GRANTED"
    with django_assert_max_num_queries(9):  # denial path: re-read + last entry
        device = access.authenticate_device(token)
        assert access.scan(device, tickets[2].barcode, nonce())["reason"] == "ALREADY_CONTROLLED"


def test_operations_vocabulary(venue):
    (ticket,) = venue.sell_tonight()
    assert do_scan(venue.device, ticket.barcode)["operation"] == Operation.OK
    assert do_scan(venue.device, ticket.barcode)["operation"] == Operation.FAIL
    assert Decision.GRANTED == "GRANTED" and Reason.PARTNER_REFUSED == "PARTNER_REFUSED"


# ---------------------------------------------------------------- over HTTP

def test_http_scan_and_errors_name_the_field(venue):
    (ticket,) = venue.sell_tonight()
    client = venue.client()
    r = client.post("/api/v1/access/scans", {"barcode": ticket.barcode, "nonce": "n1"},
                    content_type="application/json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["decision"] == "GRANTED" and body["door"] == "D1" and body["sector"] == "MAIN"
    assert "scan;dur=" in r["Server-Timing"]
    r = client.post("/api/v1/access/scans", {"nonce": "n2"}, content_type="application/json")
    assert r.status_code == 422 and r.json()["field"] == "barcode"
    r = client.post("/api/v1/access/scans", {"barcode": "X", "nonce": "n3", "scanned_at": "yesterday"},
                    content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "scanned_at" and r.json()["found"] == "yesterday"
    r = client.post("/api/v1/access/scans", {"barcode": "X", "nonce": "n4", "direction": "SIDEWAYS"},
                    content_type="application/json")
    assert r.status_code == 422 and r.json()["field"] == "direction"  # an unknown enum value
    r = client.post("/api/v1/access/scans", {"barcode": "  ", "nonce": "n5"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["field"] == "barcode"
    r = client.post("/api/v1/access/scans", "{not json", content_type="application/json")
    assert r.status_code in (400, 422) and r.json()["code"]


def test_http_tokens_refused(venue, api_client, other_catalogue):
    payload = json.dumps({"barcode": "X", "nonce": "n"})
    # an organisation API token is not a device token
    r = api_client.post("/api/v1/access/scans", payload, content_type="application/json")
    assert r.status_code == 401 and r.json()["field"] == "Authorization"
    r = venue.client("pgd_made-up").post("/api/v1/access/scans", payload, content_type="application/json")
    assert r.status_code == 401
    access.revoke_device(venue.actor, venue.device)
    r = venue.client().post("/api/v1/access/scans", payload, content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "device_revoked" and "revoked" in r.json()["message"]
    r = venue.client().get("/api/v1/access/package")
    assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def test_nasty_input_is_a_400_not_a_500(venue, api_client):
    client = venue.client()
    for body in ({"barcode": "A\x00B", "nonce": "n1"}, {"barcode": "A", "nonce": "n\x00"},
                 {"barcode": "A" * 500, "nonce": "n2"}, {"barcode": "A", "nonce": "n" * 500},
                 {"barcode": 12, "nonce": "n3"}, {"barcode": "A", "nonce": "n4", "scanned_at": "2026-13-45T99:00Z"},
                 {"barcode": "A", "nonce": "n5", "scanned_at": "2026-01-01T10:00:00"}):
        r = client.post("/api/v1/access/scans", body, content_type="application/json")
        assert r.status_code in (400, 422), (body, r.status_code, r.content)
        assert r.json()["field"] in ("barcode", "nonce", "scanned_at"), r.json()
    for url in ("/api/v1/access/package?cursor=%00", "/api/v1/access/package?limit=99999999999",
                "/api/v1/access/package?cursor=cGsxOjE6RDo6eDp5"):
        r = client.get(url)
        assert r.status_code in (400, 422), (url, r.status_code, r.content)
    for url in ("/api/v1/access/lists/white?cursor=%00", "/api/v1/access/lists/white?limit=0",
                "/api/v1/access/scans?limit=5000", "/api/v1/access/scans?cursor=zzz",
                "/api/v1/access/lists/white?format=xml", "/api/v1/access/scans?barcode=%00",
                "/api/v1/access/scans?door=D%001"):
        r = api_client.get(url)
        assert r.status_code in (400, 422), (url, r.status_code, r.content)
    r = api_client.post("/api/v1/access/controls/import", {"controls": [
        {"barcode": "A", "scanned_at": "2026-01-01T10:00:00Z", "reference": "r\x00"}]},
        content_type="application/json")
    assert r.status_code in (400, 422)
    r = client.post("/api/v1/access/scans/offline", {"scans": "nope"}, content_type="application/json")
    assert r.status_code in (400, 422)
    for url, body in (("/api/v1/access/sectors", {"code": "X", "name": "a\x00"}),
                      ("/api/v1/access/controls/import", {"controls": [{"barcode": "A", "gate": "g\x00",
                                                                         "scanned_at": "2026-01-01T10:00:00Z",
                                                                         "reference": "r1"}]})):
        r = api_client.post(url, body, content_type="application/json")
        assert r.status_code == 422 and r.json()["field"], (url, r.content)


def test_cache_is_dropped_when_a_rule_or_sector_changes(venue, settings):
    settings.ACCESS_CACHE_SECONDS = 60
    c1, c2 = venue.sell_pass(2)
    assert do_scan(access.authenticate_device(venue.token), c1.barcode)["decision"] == "GRANTED"
    access.delete_rule(venue.actor, venue.pass_rule)
    assert do_scan(access.authenticate_device(venue.token), c2.barcode)["reason"] == "WRONG_SECTOR"
    (t,) = venue.sell_tonight()
    assert do_scan(access.authenticate_device(venue.token), t.barcode)["decision"] == "GRANTED"
    do_scan(access.authenticate_device(venue.token), t.barcode, direction="EXIT")
    access.update_sector(venue.actor, venue.sector, reentry_allowed=True)
    assert do_scan(access.authenticate_device(venue.token), t.barcode)["decision"] == "GRANTED"


def test_cache_is_off_under_the_test_runner_unless_asked():
    from passgate.access import cache

    assert cache.ttl() == 0


def test_a_change_made_by_another_process_is_seen_at_the_next_scan(venue, settings):
    """Another process deletes the rule: its post_delete bumps config_version in the database;
    this process, whose cache still holds the rule, drops it when the device lookup reads it."""
    from passgate.access import cache
    from passgate.access.models import AccessRule

    settings.ACCESS_CACHE_SECONDS = 600
    c1, c2 = venue.sell_pass(2)
    assert do_scan(access.authenticate_device(venue.token), c1.barcode)["decision"] == "GRANTED"
    AccessRule.objects.filter(pk=venue.pass_rule.pk)._raw_delete("default")  # no signal here...
    assert do_scan(access.authenticate_device(venue.token), c2.barcode)["decision"] == "GRANTED"  # stale
    cache.bump_version(venue.actor.organisation.pk)  # ...what the other process's signal does
    (c3,) = venue.sell_pass()
    assert do_scan(access.authenticate_device(venue.token), c3.barcode)["reason"] == "WRONG_SECTOR"


def test_deleting_an_organisation_with_access_rows(db):
    """Cache invalidation on delete never creates rows for an organisation on its way out."""
    from passgate.orgs.models import Organisation
    from passgate.orgs.services import Actor, create_organisation

    org = create_organisation("gone", "Gone")
    actor = Actor.system(org)
    access.create_sector(actor, "S", "S")
    access.create_sector(actor, "T", "T")
    access.set_signed_barcodes(actor, True)
    org.delete()
    assert not Organisation.objects.filter(code="gone").exists()
