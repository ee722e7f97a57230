"""Times shown to people are the organisation's wall-clock time: a show at 18:00
UTC of a Paris organisation reads 19:00 in its label, on the change list (each
row in its own organisation's zone), on its change page and audit history, on
the attendance page and in the failure e-mail."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from access.conftest import do_scan
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from passgate.catalog import services as catalog
from passgate.catalog.models import Performance
from passgate.jobs import services as jobs
from passgate.jobs.models import Execution, ExecutionStatus
from passgate.jobs.notifications import notify_execution
from passgate.orgs.models import AuditEntry, Membership, Role
from passgate.orgs.services import Actor, create_organisation

pytestmark = pytest.mark.django_db

SHOW_UTC = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC)  # 19:00 in Paris, 13:00 in New York


@pytest.fixture
def paris_show(catalogue):
    return catalog.create(catalogue.actor, Performance, product=catalogue.concert, code="SYM01", name="Symphony",
                          starts_at=SHOW_UTC, ends_at=SHOW_UTC + dt.timedelta(hours=2))


@pytest.fixture
def new_york(db):
    return create_organisation("ny", "Carnegie", "America/New_York", "USD")


@pytest.fixture
def new_york_show(new_york):
    from conftest import Catalogue

    catalogue = Catalogue(Actor.system(new_york, "ny-admin"), prefix="NY")
    return catalog.create(catalogue.actor, Performance, product=catalogue.concert, code="NYSYM", name="Symphony",
                          starts_at=SHOW_UTC, ends_at=SHOW_UTC + dt.timedelta(hours=2))


@pytest.fixture
def paris_and_new_york_client(org, new_york) -> Client:
    """A member of organisations in two zones: no single zone can be assumed for the request."""
    user = get_user_model().objects.create_user("globe", password="pw-globe", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    Membership.objects.create(user=user, organisation=new_york, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


def test_a_performance_label_reads_the_organisations_time(paris_show):
    assert str(paris_show) == "SYM01 2026-11-25 19:00"
    # The label of a row loaded without its organisation finds the zone all the same.
    assert str(Performance.objects.get(pk=paris_show.pk)) == "SYM01 2026-11-25 19:00"


def test_a_changed_time_zone_shows_at_once(paris_show, org):
    assert str(Performance.objects.get(pk=paris_show.pk)) == "SYM01 2026-11-25 19:00"  # the zone is now cached
    org.time_zone = "America/New_York"
    org.save()
    assert str(Performance.objects.get(pk=paris_show.pk)) == "SYM01 2026-11-25 13:00"


def test_the_change_list_shows_each_row_in_its_own_organisations_zone(paris_show, new_york_show,
                                                                      paris_and_new_york_client):
    page = paris_and_new_york_client.get(reverse("admin:catalog_performance_changelist")).content.decode()
    starts = re.findall(r'<td class="field-starts_at[^"]*">(?:<span[^>]*>)?([^<]*)<', page)
    assert "2026-11-25 19:00" in starts and "2026-11-25 13:00" in starts
    assert "2026-11-25 18:00" not in page


def test_the_change_page_shows_and_reads_times_in_the_objects_zone(paris_show, paris_and_new_york_client):
    url = reverse("admin:catalog_performance_change", args=[paris_show.pk])
    page = paris_and_new_york_client.get(url)
    assert 'name="starts_at_1" value="19:00:00"' in page.content.decode()
    # A time typed on the page is the organisation's wall-clock time.
    data = {"product": paris_show.product_id, "code": "SYM01", "name": "Symphony",
            "starts_at_0": "2026-11-25", "starts_at_1": "20:00:00", "ends_at_0": "2026-11-25", "ends_at_1": "22:00:00",
            "doors_open_at_0": "", "doors_open_at_1": "", "venue_site": "", "venue_city": "",
            "venue_country_code": "", "venue_zip": "", "capacity": ""}
    response = paris_and_new_york_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    paris_show.refresh_from_db()
    assert paris_show.starts_at == dt.datetime(2026, 11, 25, 19, 0, tzinfo=dt.UTC)


def test_the_audit_history_is_a_table_in_the_organisations_zone(paris_show, org, paris_and_new_york_client):
    catalog.update(Actor.system(org, "planner"), paris_show, starts_at=SHOW_UTC + dt.timedelta(hours=1))
    AuditEntry.objects.filter(object_type="catalog.performance", object_id=str(paris_show.pk)).update(
        at=dt.datetime(2026, 11, 20, 7, 30, tzinfo=dt.UTC))
    page = paris_and_new_york_client.get(reverse("admin:catalog_performance_change", args=[paris_show.pk]))
    text = page.content.decode()
    history = text[text.index('id="audit-history"'):text.index("</fieldset>", text.index('id="audit-history"'))]
    assert "<table" in history and "&lt;t" not in text
    assert "<th>When</th><th>Who</th><th>Action</th><th>Field</th><th>Before → after</th>" in history
    row = history[history.index("planner") - 200:history.index("planner") + 400]
    assert "2026-11-20 08:30:00" in row and "update" in row
    assert "2026-11-25 19:00:00 → 2026-11-25 20:00:00" in history
    assert "<td>organisation</td>" not in history  # the row's own id and organisation are not news


def test_the_attendance_page_shows_the_start_in_the_organisations_zone(venue, org, paris_and_new_york_client):
    venue.tonight.starts_at = SHOW_UTC
    venue.tonight.doors_open_at = None
    venue.tonight.save()
    (ticket,) = venue.sell_tonight()
    do_scan(venue.device, ticket.barcode)
    page = paris_and_new_york_client.get(reverse("admin:access_attendance")).content.decode()
    assert "2026-11-25 19:00" in page and "2026-11-25 18:00" not in page


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_the_failure_email_gives_times_in_the_organisations_zone(admin_actor):
    interface = jobs.create_interface(admin_actor, type="ECHO", name="Echo", url="http://127.0.0.1:9/",
                                      notify_emails="ops@example.org")
    execution = Execution.objects.create(organisation=admin_actor.organisation, interface=interface,
                                         function="ECHO_TICKETS", status=ExecutionStatus.ERROR,
                                         started_at=SHOW_UTC, ended_at=SHOW_UTC + dt.timedelta(minutes=2),
                                         error="partner down")
    assert notify_execution(execution.pk)
    body = mail.outbox[-1].body
    assert "Started:      2026-11-25 19:00:00 (Europe/Paris)" in body
    assert "Ended:        2026-11-25 19:02:00 (Europe/Paris)" in body
    assert "UTC" not in body


def test_a_reprinted_barcode_is_refused_with_the_reprint_time_in_the_organisations_zone(venue):
    from passgate.sales import services as sales
    from passgate.sales.models import RetiredBarcode

    (ticket,) = venue.sell_tonight()
    old = ticket.barcode
    sales.print_ticket(venue.actor, ticket)
    sales.reprint_ticket(venue.actor, ticket)
    RetiredBarcode.objects.filter(barcode=old).update(retired_at=SHOW_UTC)
    decision = do_scan(venue.device, old)
    assert "2026-11-25 19:00" in str(decision)

