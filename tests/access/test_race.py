"""Race: several devices scan one single-entry ticket at the same instant, each
thread on its own database connection. Exactly one is granted, every time."""

from __future__ import annotations

import sys
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from passgate.access import services as access
from passgate.access.models import Scan
from passgate.sales.models import Ticket

from .conftest import Venue, nonce

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TRIALS = 200
DEVICES = 3


def race(tokens, barcodes, results):
    barrier = threading.Barrier(len(tokens))
    errors = []

    def worker(token, slot):
        try:
            device = access.authenticate_device(token)
            for barcode in barcodes:
                barrier.wait(timeout=30)
                answer = access.scan(device, barcode, nonce())
                results[(barcode, slot)] = (answer["decision"], answer["reason"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t, i)) for i, t in enumerate(tokens)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)  # wake the racers together, not 5 ms apart
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors


def test_single_entry_race_exactly_one_granted(catalogue):
    venue = Venue(catalogue)
    tokens = [venue.token, venue.token2] + [venue.enrol(venue.door, f"SCAN-X{i}")[1] for i in range(DEVICES - 2)]
    tickets = venue.sell_tonight(100) + venue.sell_tonight(100) + venue.sell_tonight(100)
    barcodes = [t.barcode for t in tickets[:TRIALS]]
    results: dict = {}
    race(tokens, barcodes, results)
    per_ticket = Counter()
    for (barcode, _slot), (decision, reason) in results.items():
        if decision == "GRANTED":
            per_ticket[barcode] += 1
        else:
            assert reason == "ALREADY_CONTROLLED"
    assert len(results) == TRIALS * DEVICES
    doubles = [b for b in barcodes if per_ticket[b] != 1]
    assert doubles == [], f"{len(doubles)} tickets not granted exactly once ({connection.vendor})"
    assert set(Ticket.objects.filter(barcode__in=barcodes).values_list("control_count", flat=True)) == {1}
    assert Scan.objects.filter(barcode__in=barcodes).count() == TRIALS * DEVICES


def test_limited_pass_race_never_exceeds_its_limit(catalogue):
    from passgate.catalog import services as catalog
    from passgate.catalog.models import Family, Product, Tariff
    from passgate.sales import services as sales

    venue = Venue(catalogue)
    product = catalog.create(venue.actor, Product, season=catalogue.season, code="TWO", name="Two entries",
                             family=Family.OPEN_PASS, max_controls=2)
    tariff = catalog.create(venue.actor, Tariff, product=product, code="T", name="T", price=1)
    access.add_rule(venue.actor, venue.sector, product)
    line = sales.SaleLine(product=product, tariff=tariff, quantity=40)
    cards = list(sales.sell(venue.actor, sales.SaleRequest(channel=catalogue.box_office, lines=[line]))
                 .tickets.all())
    tokens = [venue.token, venue.token2] + [venue.enrol(venue.door, f"SCAN-Y{i}")[1] for i in range(2)]
    results: dict = {}
    race(tokens, [c.barcode for c in cards], results)
    granted = Counter(b for (b, _), (d, _r) in results.items() if d == "GRANTED")
    assert all(granted[c.barcode] == 2 for c in cards), granted
