"""One trail per ticket: sale, print, reprint, scans and cancel, in time order, through the API
and on the back-office pages; another organisation's token sees nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from access.conftest import Venue, do_scan
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from passgate.jobs import services as jobs
from passgate.jobs.models import Execution, ExecutionItem
from passgate.orgs.models import Membership, Role
from passgate.sales import services as sales
from passgate.sales.timeline import TimelineEvent, collect, register_source, registered_sources

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(catalogue):
    venue = Venue(catalogue)
    actor = venue.actor
    (ticket,) = venue.sell_tonight()
    ticket = sales.print_ticket(actor, ticket, catalogue.desk)
    first_barcode = ticket.barcode
    ticket = sales.reprint_ticket(actor, ticket, catalogue.desk)
    granted = do_scan(venue.device, ticket.barcode)
    denied = do_scan(venue.device2, ticket.barcode)
    assert (granted["decision"], denied["decision"]) == ("GRANTED", "DENIED")
    sales.cancel_ticket(actor, ticket)
    return venue, ticket, first_barcode


EXPECTED_KINDS = ["sale", "print", "reprint", "scan", "scan", "cancel"]


def test_ticket_trail_in_order_through_the_api(trail, api_client, other_api_client):
    venue, ticket, first_barcode = trail
    r = api_client.get(f"/api/v1/tickets/{ticket.pk}/timeline")
    assert r.status_code == 200, r.content
    items = r.json()["items"]
    assert [e["kind"] for e in items] == EXPECTED_KINDS
    assert [e["at"] for e in items] == sorted(e["at"] for e in items)
    assert items[0]["at"].endswith(("+01:00", "+02:00"))  # Europe/Paris, not UTC
    reprint = items[2]
    assert reprint["detail"]["old_barcode"] == first_barcode
    assert reprint["detail"]["new_barcode"] == ticket.barcode
    assert reprint["actor"] == "test-admin"
    granted, denied = items[3], items[4]
    assert granted["detail"]["decision"] == "GRANTED" and granted["detail"]["door"] == "D1"
    assert granted["detail"]["device"] == "SCAN-1" and granted["detail"]["online"] is True
    assert denied["detail"]["reason"] == "ALREADY_CONTROLLED" and denied["detail"]["door"] == "D2"
    assert items[5]["actor"] == "test-admin" and items[5]["detail"]["status"] == "CANCELLED"

    order = api_client.get(f"/api/v1/orders/{ticket.order_id}/timeline").json()["items"]
    assert [e["kind"] for e in order] == EXPECTED_KINDS

    assert other_api_client.get(f"/api/v1/tickets/{ticket.pk}/timeline").status_code == 404
    assert other_api_client.get(f"/api/v1/orders/{ticket.order_id}/timeline").status_code == 404


def test_ticket_and_order_pages_show_the_trail(trail, org):
    venue, ticket, first_barcode = trail
    user = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    page = client.get(f"/admin/sales/ticket/{ticket.pk}/change/").content.decode()
    rows = [page.index(f'class="timeline-{kind}"') for kind in ("sale", "print", "reprint", "scan", "cancel")]
    assert rows == sorted(rows)
    assert page.count('class="timeline-scan"') == 2
    assert f"{first_barcode} → {ticket.barcode}" in page
    assert "ALREADY_CONTROLLED" in page
    assert f"/admin/access/scan/?ticket__id__exact={ticket.pk}" in page
    order_page = client.get(f"/admin/sales/order/{ticket.order_id}/change/").content.decode()
    assert order_page.count('class="timeline-scan"') == 2 and 'class="timeline-cancel"' in order_page


def test_partner_job_items_and_plugged_sources_join_the_trail(trail, org):
    venue, ticket, _ = trail
    interface = jobs.create_interface(venue.actor, type="ECHO", name="Echo", url="http://127.0.0.1:9/",
                                      username="demo", secret="s3cret-key")
    run = Execution.objects.create(organisation=org, interface=interface, function="ECHO_TICKETS",
                                   started_at=timezone.now())
    ExecutionItem.objects.create(organisation=org, execution=run, ticket=ticket, outcome="FAILED",
                                 partner_code="E42", message="holder name missing", at=timezone.now())
    later = timezone.now() + dt.timedelta(minutes=1)
    register_source("test wallet", lambda organisation, ids: [
        {"at": later, "kind": "wallet", "title": "Wallet ACTIVE", "ticket_id": i} for i in ids])
    try:
        events = collect(org, [ticket.pk])
    finally:
        from passgate.sales import timeline
        timeline._SOURCES.pop("test wallet")
    assert [e.kind for e in events][-2:] == ["partner", "wallet"]
    partner = events[-2]
    assert "E42 holder name missing" in partner.title and partner.detail["execution_id"] == run.pk
    assert isinstance(events[-1], TimelineEvent)
    assert {"sales", "scans", "partner jobs"} <= set(registered_sources())
