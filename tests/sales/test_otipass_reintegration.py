"""OTIPASS_SALES_REINTEGRATION: each granted Otipass control becomes one order on the OTIPASS
channel (buyer the Otipass contact, pending account), one ticket carrying the control's OTI…
barcode, sold as controlled; idempotent by the control's reference; quota exhausted → WARNING,
kept for the next run."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from passgate.access.models import Decision
from passgate.access.reports import attendance
from passgate.catalog import services as catalog
from passgate.catalog.models import Tariff
from passgate.jobs import services as jobs
from passgate.jobs.models import ExecutionItem
from passgate.jobs.runner import run_schedule
from passgate.sales.models import Order, PaymentMode, Ticket
from tests.conftest import Catalogue

from .conftest import OtipassControls, otipass_parameters


def run(schedule):
    return run_schedule(schedule.pk, trigger="CLI")


def otipass_orders():
    return Order.objects.filter(channel__code="OTIPASS")


@pytest.mark.django_db
def test_each_control_becomes_one_order_as_the_seed_says(catalogue, external, otipass_controls, reintegration):
    at = timezone.now() - dt.timedelta(minutes=5)
    controls = [otipass_controls.granted(at=at), otipass_controls.granted(at=at)]
    execution = run(reintegration)
    assert execution.status == "OK", execution.summary
    assert execution.done == 2 and execution.remaining == 0
    orders = list(otipass_orders().order_by("pk"))
    assert [o.external_reference for o in orders] == [f"{c.device_id}:{c.nonce}" for c in controls]
    for order, control in zip(orders, controls, strict=True):
        assert order.buyer == external.contact and order.payment_mode == PaymentMode.PENDING_ACCOUNT
        assert order.channel == external.channel and str(order.total) == "45.00"
        ticket = order.tickets.get()
        assert ticket.barcode == control.recorded_barcode  # not a second, random barcode
        assert ticket.tariff == catalogue.pass_tariff and ticket.product == catalogue.pass_product
        # sold as the control was: controlled once, inside, at the control's time
        assert (ticket.control_count, ticket.inside, ticket.first_controlled_at) == (1, True, at)


@pytest.mark.django_db
def test_a_rerun_creates_nothing_and_other_scans_are_not_sales(catalogue, external, otipass_controls,
                                                               reintegration):
    otipass_controls.granted()
    otipass_controls.granted(decision=Decision.DENIED, reason="PARTNER_REFUSED")
    otipass_controls.granted(connector="")  # a passgate ticket's scan, not an Otipass control
    run(reintegration)
    again = run(reintegration)
    assert again.status == "OK" and again.selected == 0
    assert otipass_orders().count() == 1 and Ticket.objects.count() == 1


@pytest.mark.django_db
def test_quota_exhausted_is_a_warning_kept_for_the_next_run(catalogue, external, otipass_controls, reintegration):
    catalog.update(catalogue.actor, external.contingent, quota=2)
    controls = [otipass_controls.granted() for _ in range(3)]
    first = run(reintegration)
    assert first.status == "WARNING" and (first.done, first.failed) == (2, 1)
    item = ExecutionItem.objects.get(execution=first, outcome="FAILED")
    assert item.partner_code == "quota_exhausted" and item.object_ref == f"{controls[2].device_id}:{controls[2].nonce}"
    assert controls[2].recorded_barcode in item.message
    external.contingent.refresh_from_db()
    assert external.contingent.sold_count == 2  # never oversold
    still = run(reintegration)
    assert still.status == "WARNING" and still.failed == 1  # not dropped: selected again
    catalog.update(catalogue.actor, external.contingent, quota=3)
    after = run(reintegration)
    assert after.status == "OK" and after.done == 1
    assert otipass_orders().count() == 3


@pytest.mark.django_db
def test_attendance_and_sales_per_channel_agree(catalogue, external, otipass_controls, reintegration):
    for _ in range(3):
        otipass_controls.granted()
    catalogue.sell_pass(2)  # box-office passes, not controlled: not in either count
    run(reintegration)
    entered = sum(r["entered"] for r in attendance(catalogue.actor.organisation) if r["product"] == "PASS")
    per_channel = dict(Ticket.objects.filter(product=catalogue.pass_product).values_list("order__channel__code")
                       .annotate(n=Count("id")))
    controlled_otipass = Ticket.objects.filter(order__channel__code="OTIPASS", control_count=1, inside=True).count()
    assert entered == per_channel["OTIPASS"] == controlled_otipass == 3


@pytest.mark.django_db
def test_the_tariff_is_the_mapped_one_and_never_guessed(catalogue, external, otipass_controls, reintegration):
    child = catalog.create(catalogue.actor, Tariff, product=catalogue.pass_product, code="CHILD", name="Child",
                           price="20.00")
    jobs.update_interface(catalogue.actor, reintegration.interface,
                          parameters_text=otipass_parameters(catalogue, tariff_mapping={"PASS24": "CHILD"}))
    mapped = otipass_controls.granted(pass_product="PASS24")
    unmapped = otipass_controls.granted(pass_product="PASS72")
    execution = run(reintegration)
    assert Ticket.objects.get(barcode=mapped.recorded_barcode).tariff == child
    assert Order.objects.get(external_reference=f"{mapped.device_id}:{mapped.nonce}").total == child.price
    # PASS72 is not mapped and the product has two tariffs: refused, passgate never guesses a price
    assert execution.status == "WARNING"
    item = ExecutionItem.objects.get(execution=execution, outcome="FAILED")
    assert "tariffMapping.PASS72" in item.message
    assert not Ticket.objects.filter(barcode=unmapped.recorded_barcode).exists()


@pytest.mark.django_db
def test_an_unmapped_pass_takes_the_products_only_tariff(catalogue, external, otipass_controls, reintegration):
    unmapped = otipass_controls.granted(pass_product="PASS72")
    assert run(reintegration).status == "OK"
    assert Ticket.objects.get(barcode=unmapped.recorded_barcode).tariff == catalogue.pass_tariff


@pytest.mark.django_db
def test_batch_size_and_the_remaining_count(catalogue, external, otipass_controls, reintegration):
    for _ in range(3):
        otipass_controls.granted()
    jobs.update_schedule(catalogue.actor, reintegration, batch_size=2)
    first = run(reintegration)
    assert (first.done, first.remaining) == (2, 1) and "1 left for the next run" in first.summary
    second = run(reintegration)
    assert (second.done, second.remaining) == (1, 0)


@pytest.mark.django_db
def test_without_the_otipass_channel_the_run_stops_with_the_fix(catalogue, otipass_controls):
    from passgate.jobs import services as jobs

    interface = jobs.create_interface(catalogue.actor, type="OTIPASS", name="Otipass",
                                      url="http://127.0.0.1:9/api/demo", parameters_text=otipass_parameters(catalogue))
    reintegration = jobs.create_schedule(catalogue.actor, interface=interface, function="OTIPASS_SALES_REINTEGRATION")
    from passgate.catalog.models import SalesChannel

    otipass_controls.granted()
    assert not SalesChannel.objects.filter(code="OTIPASS").exists()
    execution = run(reintegration)
    assert execution.status == "ERROR" and "OTIPASS" in execution.error and "setup" in execution.error_cause


@pytest.mark.django_db
def test_another_organisations_controls_are_not_reintegrated(catalogue, external, otipass_controls, reintegration,
                                                             other_org):
    from passgate.orgs.services import Actor

    other = OtipassControls(Catalogue(Actor.system(other_org, "other"), prefix="O"), sector_code="OMUSEUM")
    other.granted()
    assert run(reintegration).selected == 0
    assert not Order.objects.exists()


# ---------------------------------------------------------------- killed mid-batch (PostgreSQL)

@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_with_sigkill_mid_batch_and_rerun_leaves_one_order_per_control(catalogue, external,
                                                                              otipass_controls, reintegration):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    from tests.jobs.test_processes import process_env

    total = 200
    catalog.update(catalogue.actor, external.contingent, quota=total)
    controls = [otipass_controls.granted() for _ in range(total)]
    child = subprocess.Popen([sys.executable, "-m", "passgate.cli", "run-schedule", str(reintegration.pk),
                              "--no-progress"], env=process_env(lease=1.0), cwd=str(settings.PROJECT_DIR),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while otipass_orders().count() < 5:
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    made = otipass_orders().count()
    assert 0 < made < total, "killed mid-batch"
    time.sleep(1.2)  # the dead run's lease expires; the next run closes it as "worker lost"
    rerun = run(reintegration)
    assert rerun.status == "OK", rerun.summary
    orders = otipass_orders()
    assert orders.count() == total == orders.values("external_reference").distinct().count()
    assert set(Ticket.objects.filter(order__in=orders).values_list("barcode", flat=True)) == {
        c.recorded_barcode for c in controls}
    external.contingent.refresh_from_db()
    assert external.contingent.sold_count == total
