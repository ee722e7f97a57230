"""The back office, organised by organisation: members see their own
organisation's rows, their role decides what they may change, and actions go
through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from passgate.orgs.models import Membership, Role
from passgate.sales.models import Ticket


def member_client(org, role, username) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-" + username, is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def box_office(org):
    return member_client(org, Role.BOX_OFFICE, "clerk")


def test_member_sees_only_own_organisation(catalogue, other_catalogue, box_office):
    mine = catalogue.sell_concert().tickets.get()
    theirs = other_catalogue.sell_concert().tickets.get()
    page = box_office.get(reverse("admin:sales_ticket_changelist"))
    assert page.status_code == 200
    assert mine.barcode in page.content.decode()
    assert theirs.barcode not in page.content.decode()
    assert box_office.get(reverse("admin:sales_ticket_change", args=[theirs.pk])).status_code in (302, 404)


def test_search_tickets_by_barcode_and_file_number(catalogue, box_office):
    t1 = catalogue.sell_concert().tickets.get()
    t2 = catalogue.sell_concert().tickets.get()
    page = box_office.get(reverse("admin:sales_ticket_changelist"), {"q": t1.barcode}).content.decode()
    assert t1.barcode in page and t2.barcode not in page
    page = box_office.get(reverse("admin:sales_ticket_changelist"), {"q": t2.order.file_number}).content.decode()
    assert t2.barcode in page and t1.barcode not in page


def test_print_action_goes_through_the_status_machine(catalogue, box_office):
    ok = catalogue.sell_concert().tickets.get()
    cancelled = catalogue.sell_concert().tickets.get()
    from passgate.sales.services import cancel_ticket

    cancel_ticket(catalogue.actor, cancelled)
    response = box_office.post(reverse("admin:sales_ticket_changelist"),
                               {"action": "print_tickets", "_selected_action": [ok.pk, cancelled.pk]}, follow=True)
    text = response.content.decode()
    assert "Print: 1 done." in text
    assert "a CANCELLED ticket cannot be printed" in text
    assert Ticket.objects.get(pk=ok.pk).status == "PRINTED"
    assert Ticket.objects.get(pk=cancelled.pk).status == "CANCELLED"


def test_box_office_cannot_change_the_catalogue(catalogue, box_office):
    assert box_office.get(reverse("admin:catalog_tariff_add")).status_code == 403
    response = box_office.post(reverse("admin:catalog_tariff_change", args=[catalogue.full_price.pk]),
                               {"organisation": catalogue.full_price.organisation_id, "product": catalogue.concert.pk,
                                "code": "FULL", "name": "hacked", "price": "0"})
    assert response.status_code == 403
    catalogue.full_price.refresh_from_db()
    assert catalogue.full_price.name == "Full price"


def test_read_only_member_cannot_run_actions(catalogue, org):
    viewer = member_client(org, Role.READ_ONLY, "viewer")
    ticket = catalogue.sell_concert().tickets.get()
    page = viewer.get(reverse("admin:sales_ticket_changelist")).content.decode()
    assert ticket.barcode in page and "print_tickets" not in page
    viewer.post(reverse("admin:sales_ticket_changelist"), {"action": "print_tickets", "_selected_action": [ticket.pk]})
    assert Ticket.objects.get(pk=ticket.pk).status == "NOT_PRINTED"


def test_csv_export_has_the_box_office_columns(catalogue, box_office):
    ticket = catalogue.sell_concert().tickets.get()
    response = box_office.post(reverse("admin:sales_ticket_changelist"),
                               {"action": "export_csv", "_selected_action": [ticket.pk]})
    body = b"".join(response.streaming_content).decode()
    header, row = body.strip().splitlines()
    assert header.startswith("file_number;barcode;status")
    assert ticket.barcode in row and ";CONCERT;" in row


def test_admin_edit_is_validated_and_audited(catalogue, org):
    admin = member_client(org, Role.ADMINISTRATOR, "boss")
    url = reverse("admin:catalog_tariff_change", args=[catalogue.full_price.pk])
    data = {"organisation": org.pk, "product": catalogue.concert.pk, "code": "FULL", "name": "Full", "price": "-3"}
    response = admin.post(url, data)
    assert response.status_code == 200 and "Ensure this value is greater than or equal to 0" in response.content.decode()
    response = admin.post(url, {**data, "price": "33"})
    assert response.status_code == 302
    from passgate.orgs.models import AuditEntry

    entry = AuditEntry.objects.get(object_type="catalog.tariff", action="update")
    assert entry.actor == "boss" and entry.after["price"] == "33.00"


def test_token_created_in_admin_is_shown_once(org):
    admin = member_client(org, Role.ADMINISTRATOR, "boss")
    response = admin.post(reverse("admin:orgs_apitoken_add"), {"organisation": org.pk, "name": "gate", "role": "READ_ONLY"},
                          follow=True)
    text = response.content.decode()
    assert "will not be shown again" in text and "pg_" in text
    again = admin.get(response.redirect_chain[-1][0]).content.decode()
    assert "will not be shown again" not in again
