"""Buyers racing for the last places: never oversold, on SQLite (WAL, IMMEDIATE
transactions) and on PostgreSQL (conditional updates), with real concurrent
connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from passgate.catalog import services as catalog
from passgate.catalog.models import Contingent, Performance
from passgate.errors import Conflict
from passgate.sales import services as sales
from passgate.sales.models import Ticket

BUYERS = 8


def race(func, n: int) -> list[object]:
    """Run func(i) in n threads released at the same instant; each thread has its own connection."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = func(i)
        except Exception as exc:  # noqa: BLE001 — the outcome is what we assert on
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", [5])
def test_contingent_never_oversold(catalogue, rounds):
    for round_ in range(rounds):
        contingent = catalog.create(catalogue.actor, Contingent, code=f"LAST{round_}", name="Last places",
                                    channel=catalogue.box_office, product=catalogue.concert,
                                    performance=catalogue.performance, quota=3)
        before = Ticket.objects.count()
        results = race(lambda i: catalogue.sell_concert(1), BUYERS)
        sold = [r for r in results if isinstance(r, sales.Order)]
        refused = [r for r in results if isinstance(r, Conflict)]
        unexpected = [r for r in results if not isinstance(r, sales.Order | Conflict)]
        assert not unexpected, unexpected
        assert len(sold) == 3, f"round {round_}: {len(sold)} sold for a quota of 3 ({connection.vendor})"
        assert all(r.code == "sold_out" for r in refused)
        contingent.refresh_from_db()
        assert contingent.sold_count == 3
        assert Ticket.objects.count() - before == 3
        # Next round gets a fresh contingent: move this one out of the way.
        Contingent.objects.filter(pk=contingent.pk).update(performance=None, product=catalogue.pass_product)


@pytest.mark.django_db(transaction=True)
def test_performance_capacity_never_oversold_with_multi_ticket_orders(catalogue):
    Performance.objects.filter(pk=catalogue.performance.pk).update(capacity=5)
    results = race(lambda i: catalogue.sell_concert(2), BUYERS)
    sold = [r for r in results if isinstance(r, sales.Order)]
    assert len(sold) == 2  # 2 + 2 = 4 places; a third order of 2 would make 6 > 5
    perf = Performance.objects.get(pk=catalogue.performance.pk)
    assert perf.sold_count == 4
    assert Ticket.objects.filter(performance=perf).count() == 4


@pytest.mark.django_db(transaction=True)
def test_cancelling_gives_places_back(catalogue):
    contingent = catalog.create(catalogue.actor, Contingent, code="Q", name="Quota", channel=catalogue.box_office,
                                product=catalogue.concert, quota=2)
    order = catalogue.sell_concert(2)
    with pytest.raises(Conflict) as refused:
        catalogue.sell_concert(1)
    assert refused.value.field == "lines[0].quantity"
    sales.cancel_ticket(catalogue.actor, order.tickets.first())
    catalogue.sell_concert(1)
    contingent.refresh_from_db()
    assert contingent.sold_count == 2


@pytest.mark.django_db(transaction=True)
def test_same_external_reference_racing_makes_one_order(catalogue):
    results = race(lambda i: catalogue.sell_concert(1, external_reference="PARTNER-42"), 4)
    orders = {r.pk for r in results if isinstance(r, sales.Order)}
    assert len(orders) == 1, results
    assert Ticket.objects.filter(order_id__in=orders).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", [3])
def test_one_reference_two_different_requests_racing_one_201_one_409(catalogue, rounds):
    """Over HTTP, released at once: the service, behind the unique constraint, decides —
    never two orders, never a silent 200 for a request that asked for something else."""
    import json

    from django.test import Client

    from passgate.orgs.services import issue_api_token

    _, token = issue_api_token(catalogue.actor, "race", "ADMINISTRATOR")

    def body(reference: str, quantity: int) -> str:
        return json.dumps({"channel_id": catalogue.box_office.pk, "external_reference": reference,
                           "lines": [{"product_id": catalogue.pass_product.pk, "tariff_id": catalogue.pass_tariff.pk,
                                      "quantity": quantity}]})

    for round_ in range(rounds):
        reference = f"PARTNER-{round_}"
        results = race(lambda i, reference=reference: Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
            "/api/v1/orders", data=body(reference, 2 + i), content_type="application/json"), 2)
        statuses = sorted(r.status_code for r in results)
        assert statuses == [201, 409], [r.content[:300] for r in results]
        refused = next(r.json() for r in results if r.status_code == 409)
        assert refused["code"] == "idempotency_conflict" and refused["field"] == "external_reference"
        assert refused["found"] in ("lines[0].quantity: 2 ≠ 3", "lines[0].quantity: 3 ≠ 2"), refused
        orders = sales.Order.objects.filter(external_reference=reference)
        assert orders.count() == 1
        winner = next(r.json() for r in results if r.status_code == 201)
        assert Ticket.objects.filter(order=orders.get()).count() == len(winner["tickets"])
