"""The desk in the back office: the sale screen sells through the sell service and shows its
refusals on the form; the order and ticket pages' buttons call the services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from passgate.catalog import services as catalog
from passgate.catalog.models import Contingent
from passgate.orgs.models import Membership, Role
from passgate.sales.models import Contact, Order, OrderEmail, Ticket

pytestmark = pytest.mark.django_db

SELL = "/admin/sales/order/sell/"


def member(org, role, name) -> Client:
    user = get_user_model().objects.create_user(name, password="pw", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def desk(org):
    return member(org, Role.BOX_OFFICE, "clerk")


@pytest.fixture
def quota(catalogue, admin_actor):
    return catalog.create(admin_actor, Contingent, code="BOXQ", name="Box quota", channel=catalogue.box_office,
                          product=catalogue.concert, performance=catalogue.performance, quota=3)


def sale_form(catalogue, **more) -> dict:
    return {"item": f"perf:{catalogue.performance.pk}", "point_of_sale": catalogue.desk.pk, "payment_mode": "CASH",
            "category": catalogue.category.pk, f"qty_{catalogue.full_price.pk}": "2", **more}


def test_add_on_the_orders_list_is_the_desk(desk):
    response = desk.get("/admin/sales/order/add/")
    assert response.status_code == 302 and response["Location"] == SELL
    assert "Sell at the desk" in desk.get("/admin/sales/order/").content.decode()


def test_the_screen_offers_the_performance_its_tariffs_and_points_of_sale(desk, catalogue):
    page = desk.get(SELL).content.decode()
    assert f'value="perf:{catalogue.performance.pk}"' in page and f'value="prod:{catalogue.pass_product.pk}"' in page
    page = desk.get(SELL, {"item": f"perf:{catalogue.performance.pk}"}).content.decode()
    assert f'name="qty_{catalogue.full_price.pk}"' in page and "Desk 1" in page and "Stalls" in page


def test_a_desk_sale_with_a_new_buyer_and_a_holder(desk, catalogue, quota):
    response = desk.post(SELL, sale_form(catalogue, buyer_first_name="Léa", buyer_last_name="Martin",
                                         buyer_email="lea@example.org", holder_first_name_1="Hugo",
                                         holder_last_name_1="Bernard"))
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/sales/order/{order.pk}/change/"
    assert (order.buyer.email, order.payment_mode, order.point_of_sale_id) == ("lea@example.org", "CASH",
                                                                                catalogue.desk.pk)
    first, second = order.tickets.order_by("id")  # in the screen's order: the holder typed on ticket 2
    assert (first.cultural_contact, second.cultural_contact.full_name) == (None, "Hugo Bernard")
    assert order.created_by.startswith("user:") or "clerk" in order.created_by
    quota.refresh_from_db()
    assert quota.sold_count == 2
    page = desk.get(response["Location"]).content.decode()
    assert "Sold: file" in page and 'id="print-order"' in page and 'id="email-order"' in page


def test_a_refused_sale_shows_the_field_expected_and_found_and_keeps_nothing(desk, catalogue, quota):
    form = sale_form(catalogue, buyer_last_name="Martin", holder_last_name_0="Bernard")
    form[f"qty_{catalogue.full_price.pk}"] = "4"
    page = desk.post(SELL, form).content.decode()
    assert 'id="sale-error"' in page
    # ticket 1 has its own holder (one line, it fits), tickets 2 to 4 are the buyer's (the line refused)
    assert ("Full price, tickets 2, 3, 4 — <strong>lines[1].quantity</strong>: contingent BOXQ has not enough "
            "places left (expected at most 2; found 3)") in page
    assert not Order.objects.exists() and not Contact.objects.exists()  # no half-written contacts either
    assert 'value="4"' in page  # the clerk's quantities are kept


def test_the_capacity_endpoint_reads_the_remaining_places(desk, catalogue, quota):
    catalogue.sell_concert(1)
    rows = desk.get(SELL + "capacity/", {"item": f"perf:{catalogue.performance.pk}",
                                         "point_of_sale": catalogue.desk.pk}).json()["rows"]
    assert rows[0] == {"limit": "contingent", "code": "BOXQ", "name": "Box quota", "capacity": 3, "sold": 1,
                       "remaining": 2}


def test_ticket_buttons_call_the_services_and_say_their_refusal(desk, catalogue):
    ticket = catalogue.sell_concert(1).tickets.get()
    url = f"/admin/sales/ticket/{ticket.pk}/"
    assert 'id="cancel-ticket"' in desk.get(url + "change/").content.decode()
    response = desk.post(url + "do/print/")
    assert response["Content-Type"] == "application/pdf"
    assert Ticket.objects.get(pk=ticket.pk).status == "PRINTED"
    old = ticket.barcode
    desk.post(url + "do/reprint/")
    assert Ticket.objects.get(pk=ticket.pk).barcode != old
    response = desk.post(url + "do/cancel/", follow=True)
    assert "Cancel: ticket" in response.content.decode()
    response = desk.post(url + "do/print/", follow=True)
    assert "Print refused — a CANCELLED ticket cannot be printed" in response.content.decode()
    assert desk.get(url + "do/cancel/").status_code == 405  # a button is a POST


def test_order_buttons_print_and_email(desk, catalogue, admin_actor, django_capture_on_commit_callbacks):
    from passgate.sales import services as sales

    buyer = sales.create_contact(admin_actor, last_name="Martin", email="lea@example.org")
    order = catalogue.sell_concert(2, buyer=buyer)
    url = f"/admin/sales/order/{order.pk}/"
    response = desk.post(url + "do/print/")
    assert response["Content-Type"] == "application/pdf"
    assert set(order.tickets.values_list("status", flat=True)) == {"PRINTED"}
    with django_capture_on_commit_callbacks(execute=True):
        page = desk.post(url + "do/email/", follow=True).content.decode()
    assert "E-mail to lea@example.org queued" in page
    assert OrderEmail.objects.get().status == "QUEUED"
    assert "lea@example.org" in page and "Queued" in page  # the order's e-mails, on its page


def test_read_only_members_see_no_buttons_and_other_organisations_get_404(org, other_org, catalogue):
    ticket = catalogue.sell_concert(1).tickets.get()
    reader = member(org, Role.READ_ONLY, "reader")
    page = reader.get(f"/admin/sales/ticket/{ticket.pk}/change/").content.decode()
    assert 'id="cancel-ticket"' not in page
    response = reader.post(f"/admin/sales/ticket/{ticket.pk}/do/cancel/", follow=True)
    assert "Cancel refused" in response.content.decode()
    stranger = member(other_org, Role.BOX_OFFICE, "stranger")
    assert stranger.post(f"/admin/sales/ticket/{ticket.pk}/do/cancel/").status_code == 404
    assert stranger.get(f"/admin/sales/order/{ticket.order_id}/pdf/").status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).status == "NOT_PRINTED"
