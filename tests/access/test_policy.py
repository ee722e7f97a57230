"""One entry policy online and offline: the offline device, fed the package of its sector, decides
as the server does, scan by scan (a property test over random tickets, products, sectors, clocks and
histories), plus the cases today's offline device got wrong."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from passgate.access import services as access
from passgate.access.offline import OfflineDevice
from passgate.access.package import build_package
from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Performance, Product, Tariff, Validity
from passgate.sales import services as sales

from .conftest import nonce

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")  # the catalogue organisation's zone
_seq = itertools.count(1)


def _product(venue, **fields):
    n = next(_seq)
    product = catalog.create(venue.actor, Product, season=venue.catalogue.season, code=f"P{n}", name=f"Product {n}",
                             **fields)
    tariff = catalog.create(venue.actor, Tariff, product=product, code="T", name="T", price=1)
    return product, tariff


def _sell(venue, product, tariff, performance=None):
    line = sales.SaleLine(product=product, tariff=tariff, performance=performance, quantity=1)
    order = sales.sell(venue.actor, sales.SaleRequest(channel=venue.catalogue.box_office, lines=[line]))
    return order.tickets.get()


def _offline(sector, now):
    device = OfflineDevice()
    device.sync(lambda cursor, limit: build_package(sector, cursor, limit, now=now))
    return device


def _online(device, barcode, at, direction="ENTRY"):
    answer = access.scan(device, barcode, nonce(), at.isoformat(), direction, now=at)
    return answer["decision"], answer["reason"] or ""


def test_expired_open_pass_is_expired_offline_as_online(venue):
    now = timezone.now()
    product, tariff = _product(venue, family=Family.OPEN_PASS, validity=Validity.FIXED,
                               valid_from=now - dt.timedelta(days=10), valid_until=now - dt.timedelta(days=1))
    access.add_rule(venue.actor, venue.sector, product)
    card = _sell(venue, product, tariff)
    device = _offline(venue.sector, now)
    assert device.decide(card.barcode, now) == ("DENIED", "EXPIRED")
    assert _online(venue.device, card.barcode, now) == ("DENIED", "EXPIRED")


def test_per_day_limit_is_enforced_offline(venue):
    # 10:00 Paris on a fixed day; the day limit is 2 entries
    morning = dt.datetime(2026, 6, 10, 10, 0, tzinfo=PARIS)
    product, tariff = _product(venue, family=Family.OPEN_PASS, max_controls_per_day=2)
    access.add_rule(venue.actor, venue.sector, product)
    card, other = _sell(venue, product, tariff), _sell(venue, product, tariff)
    device = _offline(venue.sector, morning)
    assert device.decide(card.barcode, morning) == ("GRANTED", "")
    assert device.decide(card.barcode, morning + dt.timedelta(hours=1)) == ("GRANTED", "")
    assert device.decide(card.barcode, morning + dt.timedelta(hours=2)) == ("DENIED", "DAILY_LIMIT_REACHED")
    # 00:30 the next day in Paris (22:30 UTC the same day): a new day
    assert device.decide(card.barcode, dt.datetime(2026, 6, 11, 0, 30, tzinfo=PARIS)) == ("GRANTED", "")
    # entries made online today reach the device through the package
    assert _online(venue.device, other.barcode, morning)[0] == "GRANTED"
    assert _online(venue.device, other.barcode, morning + dt.timedelta(minutes=5))[0] == "GRANTED"
    device = _offline(venue.sector, morning + dt.timedelta(minutes=10))
    assert device.decide(other.barcode, morning + dt.timedelta(minutes=20)) == ("DENIED", "DAILY_LIMIT_REACHED")
    assert device.decide(other.barcode, morning + dt.timedelta(days=1)) == ("GRANTED", "")


def test_entries_uploaded_from_offline_count_toward_the_day_online(venue):
    morning = dt.datetime(2026, 6, 10, 10, 0, tzinfo=PARIS)
    product, tariff = _product(venue, family=Family.OPEN_PASS, max_controls_per_day=1)
    access.add_rule(venue.actor, venue.sector, product)
    card = _sell(venue, product, tariff)
    access.upload_offline(venue.device2, [{"barcode": card.barcode, "nonce": nonce(), "decision": "GRANTED",
                                           "scanned_at": morning.isoformat(), "direction": "ENTRY"}])
    assert _online(venue.device, card.barcode, morning + dt.timedelta(hours=1)) == ("DENIED", "DAILY_LIMIT_REACHED")


# ---------------------------------------------------------------- property: online ≡ offline

START = dt.datetime(2026, 3, 28, 21, 0, tzinfo=dt.UTC)  # 22:00 in Paris, the night before summer time

products = st.one_of(
    st.fixed_dictionaries({"family": st.just(Family.EVENT),
                           "opens": st.integers(-120, 60), "length": st.integers(60, 600)}),
    st.fixed_dictionaries({
        "family": st.just(Family.OPEN_PASS),
        "validity": st.sampled_from([Validity.NONE, Validity.FIXED, Validity.FROM_FIRST_CONTROL]),
        "from": st.integers(-600, 300), "length": st.integers(30, 1200), "hours": st.integers(1, 6),
        "max_controls": st.one_of(st.none(), st.integers(1, 4)),
        "max_per_day": st.one_of(st.none(), st.integers(1, 3)),
    }),
)
events = st.lists(st.tuples(st.one_of(st.integers(0, 90), st.integers(0, 600)), st.sampled_from(["ENTRY", "ENTRY", "EXIT"])),
                  min_size=1, max_size=7)


def _world(venue, spec, reentry, rule_kind, status):
    n = next(_seq)
    at = lambda minutes: START + dt.timedelta(minutes=minutes)  # noqa: E731
    performance = None
    if spec["family"] == Family.EVENT:
        product, tariff = _product(venue, family=Family.EVENT)
        performance = catalog.create(venue.actor, Performance, product=product, code=f"PF{n}", name="Show",
                                     doors_open_at=at(spec["opens"]), starts_at=at(spec["opens"] + 30),
                                     ends_at=at(spec["opens"] + 30 + spec["length"]))
    else:
        fields = {"family": Family.OPEN_PASS, "validity": spec["validity"], "max_controls": spec["max_controls"],
                  "max_controls_per_day": spec["max_per_day"]}
        if spec["validity"] == Validity.FIXED:
            fields.update(valid_from=at(spec["from"]), valid_until=at(spec["from"] + spec["length"]))
        elif spec["validity"] == Validity.FROM_FIRST_CONTROL:
            fields["validity_hours"] = spec["hours"]
        product, tariff = _product(venue, **fields)
    sector = access.create_sector(venue.actor, f"S{n}", "Sector", reentry_allowed=reentry)
    other_tariff = catalog.create(venue.actor, Tariff, product=product, code="OTHER", name="Other", price=1)
    if rule_kind == "product":
        access.add_rule(venue.actor, sector, product)
    elif rule_kind == "tariff":
        access.add_rule(venue.actor, sector, product, tariff=tariff)
    else:  # a rule that does not admit this ticket
        access.add_rule(venue.actor, sector, product, tariff=other_tariff)
    door = access.create_door(venue.actor, sector, f"DR{n}", "Door")
    device, _token = venue.enrol(door, f"DEV{n}")
    ticket = _sell(venue, product, tariff, performance)
    if status == "CANCELLED":
        sales.cancel_ticket(venue.actor, ticket)
    elif status == "INVALIDATED":
        sales.invalidate_ticket(venue.actor, ticket)
    return sector, device, ticket, product


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(spec=products, reentry=st.booleans(), rule_kind=st.sampled_from(["product", "product", "tariff", "other"]),
       status=st.sampled_from(["SOLD", "SOLD", "SOLD", "CANCELLED", "INVALIDATED"]),
       before=events, after=events)
@example(spec={"family": Family.EVENT, "opens": -60, "length": 600}, reentry=True, rule_kind="product", status="SOLD",
         before=[(1, "ENTRY")], after=[(1, "EXIT"), (1, "ENTRY"), (1, "ENTRY")])
@example(spec={"family": Family.OPEN_PASS, "validity": Validity.FROM_FIRST_CONTROL, "from": 0, "length": 60,
               "hours": 1, "max_controls": None, "max_per_day": 2}, reentry=False, rule_kind="product",
         status="SOLD", before=[(100, "ENTRY")], after=[(100, "ENTRY"), (10, "ENTRY"), (50, "ENTRY")])
def test_offline_device_decides_as_the_server(venue, spec, reentry, rule_kind, status, before, after):
    sector, device, ticket, product = _world(venue, spec, reentry, rule_kind, status)
    at = START
    # Scans before the download: online only; the package carries what they did.
    for gap, direction in before:
        at += dt.timedelta(minutes=gap)
        _online(device, ticket.barcode, at, direction)
    offline = _offline(sector, at)
    granted_entries = 0
    days: dict[dt.date, int] = {}
    for gap, direction in after:
        at += dt.timedelta(minutes=gap)
        expected = offline.decide(ticket.barcode, at, direction)
        got = _online(device, ticket.barcode, at, direction)
        if rule_kind == "other":
            # The package ships only tickets of its sector: a ticket of another sector is unknown there
            # (the one place the two may word a denial differently; exits are let out online).
            assert expected == ("DENIED", "UNKNOWN_BARCODE")
            if direction == "ENTRY":
                assert got[0] == "DENIED" and got[1] in ("WRONG_SECTOR", "CANCELLED", "INVALIDATED")
            continue
        assert got == expected, (at.astimezone(PARIS).isoformat(), direction)
        # a few things that hold whatever the policy's tables say
        if got[0] == "GRANTED" and direction == "ENTRY":
            granted_entries += 1
            day = at.astimezone(PARIS).date()
            days[day] = days.get(day, 0) + 1
            assert status == "SOLD"
            if product.max_controls_per_day:
                assert days[day] <= product.max_controls_per_day
    if product.max_controls:
        assert granted_entries <= product.max_controls
    if product.single_entry and not reentry:
        assert granted_entries <= 1


def test_reentry_after_exit_offline_as_online(venue):
    spec = {"family": Family.EVENT, "opens": -60, "length": 600}
    sector, device, ticket, _product = _world(venue, spec, True, "product", "SOLD")
    at = START
    offline = _offline(sector, at)
    for minutes, direction, expected in ((1, "ENTRY", ("GRANTED", "")), (2, "EXIT", ("GRANTED", "")),
                                         (3, "ENTRY", ("GRANTED", "")), (4, "ENTRY", ("DENIED", "ALREADY_CONTROLLED"))):
        when = at + dt.timedelta(minutes=minutes)
        assert offline.decide(ticket.barcode, when, direction) == expected
        assert _online(device, ticket.barcode, when, direction) == expected


def test_external_barcode_offline_as_online(venue, catalogue):
    """An imported partner barcode: its own window, and no day count, on both sides."""
    now = timezone.now()
    product, tariff = _product(venue, family=Family.OPEN_PASS, max_controls_per_day=1, max_controls=3)
    access.add_rule(venue.actor, venue.sector, product)
    access.set_external_mapping(venue.actor, "partner", "S26", "DAY1", tariff)
    access.import_external_barcodes(venue.actor, "partner", [
        {"barcode": "EXT-OK", "season_code": "S26", "product_code": "DAY1"},
        {"barcode": "EXT-LATE", "season_code": "S26", "product_code": "DAY1",
         "valid_from": (now - dt.timedelta(days=3)).isoformat(), "valid_until": (now - dt.timedelta(days=1)).isoformat()},
    ])
    device = _offline(venue.sector, now)
    for i, (barcode, direction) in enumerate([("EXT-LATE", "ENTRY"), ("EXT-OK", "ENTRY"), ("EXT-OK", "ENTRY"),
                                              ("EXT-OK", "ENTRY"), ("EXT-OK", "ENTRY")]):
        at = now + dt.timedelta(minutes=i)
        assert device.decide(barcode, at, direction) == _online(venue.device, barcode, at, direction), (i, barcode)
    assert device.decide("EXT-LATE", now)[1] == "EXPIRED"
    assert device.decide("EXT-OK", now + dt.timedelta(minutes=9))[1] == "MAX_CONTROLS_REACHED"


def test_the_policy_is_pure():
    """No database, no Django: a device maker can port the module as it is."""
    import ast
    import inspect

    from passgate.access import policy

    tree = ast.parse(inspect.getsource(policy))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "datetime", "dataclasses"}, imported
