"""The doors' connector hook, exercised with a tiny fake partner: an interface type registered
in the one registry (passgate.jobs.registry) for the tests, and a sector linked to an
interface of that type."""

from __future__ import annotations

import pytest

from passgate.access import connectors
from passgate.access import services as access
from passgate.access.models import PostSync, Scan
from passgate.access.offline import OfflineDevice
from passgate.access.package import build_package
from passgate.jobs import registry
from passgate.jobs import services as jobs

from .conftest import nonce

pytestmark = pytest.mark.django_db


class FakePartner(connectors.AccessConnector):
    """Cards look like FK + Luhn digits; 'FK...0' style numbers ending in an odd check are refused."""

    name = "FAKE"

    def __init__(self):
        self.calls = []
        self.down = False
        self.used = {}
        self.synced = []

    def format_rules(self, sector, interface):
        return [{"kind": "prefix", "value": "FK"}, {"kind": "regex", "pattern": r"FK\d{6}"}]

    def validate(self, check):
        self.calls.append(check)
        if self.down:
            raise connectors.PartnerUnavailable("connection refused")
        if check.reference in self.used:
            return self.used[check.reference]
        if check.barcode.endswith("9"):
            decision = connectors.PartnerDecision(False, partner_reason="ALREADY_CHECKED",
                                                  message="Card already used at this site")
        else:
            decision = connectors.PartnerDecision(
                True, recorded_barcode=f"FAKE{check.barcode}{check.scanned_at:%Y%m%d%H%M%S}",
                info={"product": "CITYPASS", "service": check.sector.connector_options.get("serviceId")})
        self.used[check.reference] = decision
        return decision

    def post_sync(self, scan, interface):
        if self.down:
            raise connectors.PartnerUnavailable("still down")
        self.synced.append(scan.barcode)
        return connectors.PartnerDecision(True, recorded_barcode=f"FAKE{scan.barcode}")


@pytest.fixture
def partner(venue):
    fake = FakePartner()
    registry.register_type(registry.InterfaceTypeSpec(code="FAKE", label="Fake partner", access=fake))
    interface = jobs.create_interface(venue.actor, type="FAKE", name="Fake partner", url="http://127.0.0.1:9")
    access.update_sector(venue.actor, venue.sector, interface=interface, connector_options={"serviceId": "S1"})
    venue.device.door.sector.refresh_from_db()
    fake.interface = interface
    yield fake
    registry.unregister_type("FAKE")


def test_an_interface_whose_connector_does_not_check_cards_is_refused_naming_the_field(venue):
    from passgate.errors import InvalidInput

    echo = jobs.create_interface(venue.actor, type="ECHO", name="Echo", url="http://127.0.0.1:9")
    with pytest.raises(InvalidInput) as exc:
        access.create_sector(venue.actor, "X", "X", interface=echo)
    assert exc.value.field == "interface" and "ECHO" in exc.value.found


def test_partner_grants_and_refuses(venue, partner):
    granted = access.scan(venue.device, "FK123456", nonce())
    assert granted["decision"] == "GRANTED" and granted["ticket"]["service"] == "S1"
    scan = Scan.objects.get(pk=granted["scan_id"])
    assert scan.connector == "FAKE" and scan.recorded_barcode.startswith("FAKEFK123456")
    refused = access.scan(venue.device, "FK123459", nonce())
    assert refused["decision"] == "DENIED" and refused["reason"] == "PARTNER_REFUSED"
    assert refused["partner_reason"] == "ALREADY_CHECKED"
    # not recognised by the connector: plain unknown, the partner is not called
    calls = len(partner.calls)
    assert access.scan(venue.device, "ZZ1", nonce())["reason"] == "UNKNOWN_BARCODE"
    assert len(partner.calls) == calls


def test_partner_call_is_idempotent_and_replayed(venue, partner):
    n = nonce()
    first = access.scan(venue.device, "FK123456", n)
    assert access.scan(venue.device, "FK123456", n) == first
    assert len(partner.calls) == 1
    assert partner.calls[0].reference == f"{venue.device.pk}:{n}"


def test_partner_down_admits_on_detection_and_queues_postsync(venue, partner):
    partner.down = True
    answer = access.scan(venue.device, "FK654321", nonce())
    assert answer["decision"] == "GRANTED" and answer["operation"] == "OFFLINE_OK"
    assert Scan.objects.get(pk=answer["scan_id"]).postsync_status == PostSync.PENDING
    assert access.run_postsync(partner.interface) == {"done": 0, "failed": 0, "pending": 1}
    partner.down = False
    assert access.run_postsync(partner.interface) == {"done": 1, "failed": 0, "pending": 0}
    assert partner.synced == ["FK654321"]
    assert Scan.objects.get(pk=answer["scan_id"]).postsync_status == PostSync.DONE


def test_partner_down_can_deny_when_the_sector_says_so(venue, partner):
    access.update_sector(venue.actor, venue.sector, admit_when_partner_unreachable=False)
    venue.device.door.sector.refresh_from_db()
    partner.down = True
    answer = access.scan(venue.device, "FK654321", nonce())
    assert answer["reason"] == "PARTNER_UNAVAILABLE"


def test_offline_cards_detected_by_format_rules_and_queued(venue, partner):
    device = OfflineDevice()
    device.sync(lambda cursor, limit: build_package(venue.sector, cursor, limit))
    assert device.header["connector_rules"] == [{"connector": "FAKE", "rules": partner.format_rules(None, None)}]
    from django.utils import timezone

    assert device.decide("FK777777", timezone.now()) == ("GRANTED", "")
    assert device.decide("FX777777", timezone.now()) == ("DENIED", "UNKNOWN_BARCODE")
    result = access.upload_offline(venue.device, device.history)
    assert result["recorded"] == 2 and result["queued_for_postsync"] == 1 and result["conflicts"] == []
    assert access.run_postsync(partner.interface)["done"] == 1


def test_luhn_and_rules():
    assert connectors.luhn_ok("79927398713") and not connectors.luhn_ok("79927398710")
    assert connectors.matches_rules("79927398713", [{"kind": "luhn"}, {"kind": "length", "min": 11, "max": 11}])
    assert not connectors.matches_rules("X", [{"kind": "mystery"}])


def test_partner_down_admits_a_card_once_per_sector_not_at_every_door(venue, partner):
    partner.down = True
    first = access.scan(venue.device, "FK654321", nonce())
    assert first["decision"] == "GRANTED" and first["operation"] == "OFFLINE_OK"
    assert "once at this sector today" in first["message"]
    # the same card at the same door, then at the other door of the sector: refused
    again = access.scan(venue.device, "FK654321", nonce())
    other_door = access.scan(venue.device2, "FK654321", nonce())
    for answer in (again, other_door):
        assert answer["decision"] == "DENIED" and answer["reason"] == "ALREADY_CONTROLLED"
        assert "already admitted offline at this sector today at" in answer["message"]
        assert "(door D1)" in answer["message"]
    # another card is admitted, once
    assert access.scan(venue.device2, "FK111111", nonce())["decision"] == "GRANTED"
    # a door of another sector served by the same partner admits the card once there too
    sector2 = access.create_sector(venue.actor, "SIDE", "Side hall", interface=partner.interface)
    door3 = access.create_door(venue.actor, sector2, "D3", "Door 3")
    device3, _ = venue.enrol(door3, "SCAN-3")
    assert access.scan(device3, "FK654321", nonce())["decision"] == "GRANTED"
    assert access.scan(device3, "FK654321", nonce())["decision"] == "DENIED"
    # only the admissions are queued for post-synchronisation
    assert Scan.objects.filter(postsync_status=PostSync.PENDING).count() == 3


class BrokenPartner(FakePartner):
    name = "BROKEN"

    def validate(self, check):
        self.calls.append(check)
        raise ValueError("could not parse the partner's answer: '<html>garbage'")


@pytest.fixture
def broken(venue):
    fake = BrokenPartner()
    registry.register_type(registry.InterfaceTypeSpec(code="BROKEN", label="Broken partner", access=fake))
    interface = jobs.create_interface(venue.actor, type="BROKEN", name="Broken", url="http://127.0.0.1:9")
    access.update_sector(venue.actor, venue.sector, interface=interface)
    venue.device.door.sector.refresh_from_db()
    yield fake
    registry.unregister_type("BROKEN")


def test_a_connector_that_fails_is_a_denial_recorded_and_logged_never_a_500(venue, broken, caplog):
    answer = access.scan(venue.device, "FK123456", nonce())
    assert answer["decision"] == "DENIED" and answer["reason"] == "PARTNER_ERROR"
    assert "call a supervisor" in answer["message"]
    row = Scan.objects.get(pk=answer["scan_id"])
    assert row.reason == "PARTNER_ERROR" and row.detail.startswith("ValueError: could not parse")
    assert row.postsync_status == ""
    logged = [r for r in caplog.records if r.levelname == "ERROR" and "BROKEN" in r.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is ValueError
    # over HTTP too
    r = venue.client().post("/api/v1/access/scans", {"barcode": "FK222222", "nonce": "h1"},
                            content_type="application/json")
    assert r.status_code == 200 and r.json()["reason"] == "PARTNER_ERROR"


def test_a_connector_whose_format_rules_fail_is_a_partner_error_too(venue, broken):
    def bad_rules(barcode, sector, interface):
        raise RuntimeError("format rules could not be read")

    broken.recognises = bad_rules
    answer = access.scan(venue.device, "FK123456", nonce())
    assert answer["decision"] == "DENIED" and answer["reason"] == "PARTNER_ERROR"
    assert Scan.objects.get(pk=answer["scan_id"]).detail == "RuntimeError: format rules could not be read"
    assert broken.calls == []  # the partner was not asked
