"""Back-office polish the outside test asked for: index order, plumbing hidden from
non-superusers, ticket list and search, durations, the organisation named once, View pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from passgate.catalog.models import Performance, Product
from passgate.jobs import services as jobs
from passgate.jobs.admin import seconds
from passgate.jobs.models import Execution
from passgate.orgs.models import Membership, Organisation, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(org):
    user = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


def test_index_puts_sales_and_access_first_and_hides_plumbing(clerk):
    from django.contrib.auth.models import Permission

    # even a staff member given Django's own view rights on them does not see the plumbing
    user = get_user_model().objects.get(username="clerk")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_group", "view_dbtaskresult"]))
    page = clerk.get("/admin/").content.decode()
    positions = [page.find(f'class="app-{label} module') for label in ("sales", "access", "catalog", "jobs")]
    assert -1 not in positions and positions[:2] == sorted(positions[:2]) and positions[1] < min(positions[2:])
    assert "/admin/auth/group/" not in page and "/admin/django_tasks_database/" not in page
    root = get_user_model().objects.create_superuser("root", password="pw")
    su = Client()
    su.force_login(root)
    assert "/admin/django_tasks_database/" in su.get("/admin/").content.decode()


def test_ticket_list_shows_status_early_and_searches_product_and_performance(clerk, catalogue):
    catalogue.sell_concert(2)
    catalogue.sell_pass(1)
    # codes with a hyphen, which random barcodes never hold: a barcode must not match the search by chance
    Performance.objects.filter(pk=catalogue.performance.pk).update(code="PERF-1")
    Product.objects.filter(pk=catalogue.pass_product.pk).update(code="PASS-1")
    catalogue.performance.code, catalogue.pass_product.code = "PERF-1", "PASS-1"
    page = clerk.get("/admin/sales/ticket/").content.decode()
    table = page[page.index('id="result_list"'):]
    headers = table[:table.index("</thead>")]
    assert headers.index("column-status") < headers.index("column-tariff")
    assert headers.count("<th") <= 10  # fits 1366 px
    found = clerk.get("/admin/sales/ticket/", {"q": catalogue.performance.code}).content.decode()
    assert "2 tickets" in found or "2 results" in found
    found = clerk.get("/admin/sales/ticket/", {"q": catalogue.pass_product.code}).content.decode()
    assert "1 ticket" in found or "1 result" in found


def test_durations_read_as_seconds(clerk, admin_actor, org):
    assert seconds(dt.timedelta(microseconds=361766)) == "0.36 s"
    assert seconds(dt.timedelta(seconds=185)) == "3 min 05 s"
    interface = jobs.create_interface(admin_actor, type="ECHO", name="Echo", url="http://127.0.0.1:9/",
                                      username="demo", secret="s3cret-key")
    now = timezone.now()
    Execution.objects.create(organisation=org, interface=interface, function="ECHO_TICKETS", status="DONE",
                             started_at=now, ended_at=now + dt.timedelta(microseconds=361766))
    page = clerk.get("/admin/jobs/execution/").content.decode()
    assert "0.36 s" in page and "0:00:00.361766" not in page


def test_the_organisation_is_named_once():
    assert str(Organisation(code="demo", name="Théâtre de la Cité (demo)")) == "Théâtre de la Cité (demo)"
    assert str(Organisation(code="demo", name="Théâtre de la Cité")) == "Théâtre de la Cité (demo)"


def test_pages_that_cannot_be_edited_say_view_without_save(clerk, catalogue):
    order = catalogue.sell_concert(1)
    page = clerk.get(f"/admin/sales/order/{order.pk}/change/").content.decode()
    assert "View order (file)" in page and 'name="_save"' not in page
    contact_page = clerk.get(f"/admin/catalog/product/{catalogue.concert.pk}/change/").content.decode()
    assert 'name="_save"' in contact_page and "Change product" in contact_page
