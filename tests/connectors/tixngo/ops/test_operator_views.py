"""Where an operator looks (issue #9): the ticket's page shows its wallet status, owner, holder and
blockchain log; the tickets list filters by wallet status; the API says the same, scoped to the
organisation; the template preview page renders against a real ticket."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from passgate.connectors.tixngo.models import WalletLogEntry
from passgate.jobs import services
from passgate.jobs.runner import run_schedule
from passgate.orgs.models import Membership, Role


@pytest.fixture
def back_office(org) -> Client:
    user = get_user_model().objects.create_user("wallet-op", password="pw-wallet-op", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def wallet_world(admin_actor, tix, template_interface, catalogue, buyer):
    """Three tickets: one injected then transferred (feedback read it), one injected, one never sent."""
    order = catalogue.sell_concert(2, buyer=buyer)
    moved, kept = order.tickets.order_by("pk")
    inject = services.create_schedule(admin_actor, interface=template_interface,
                                      function="TIXNGO_TICKET_INJECTION", name="inject")
    assert run_schedule(inject.pk).status == "OK"
    tix.control.post(f"/tickets/{moved.pk}/transfer", json={
        "toOwner": "friend-42", "holder": {"firstName": "Grace", "lastName": "Hopper",
                                           "email": "grace@example.org"}}).raise_for_status()
    feedback = services.create_schedule(admin_actor, interface=template_interface, function="TIXNGO_FEEDBACK",
                                        name="feedback")
    assert run_schedule(feedback.pk).status in ("OK", "WARNING")
    unsent = catalogue.sell_pass(1).tickets.get()
    return moved, kept, unsent


def test_the_ticket_page_shows_wallet_status_owner_holder_and_log(back_office, wallet_world):
    moved, _kept, unsent = wallet_world
    page = back_office.get(reverse("admin:sales_ticket_change", args=[moved.pk])).content.decode()
    assert "TRANSFERRED" in page and "friend-42" in page and "Grace Hopper" in page
    entry = WalletLogEntry.objects.filter(ticket=moved, action="TRANSFER").first()
    assert entry is not None and entry.tx_hash in page
    page = back_office.get(reverse("admin:sales_ticket_change", args=[unsent.pk])).content.decode()
    assert "Not in the TIXnGO wallet" in page


def test_the_tickets_list_filters_by_wallet_status(back_office, wallet_world):
    for status, expected in [("TRANSFERRED", {0}), ("INJECTED", {1}), ("NONE", {2}), ("", {0, 1, 2})]:
        page = back_office.get(reverse("admin:sales_ticket_changelist"), {"wallet_status": status} if status else {})
        shown = {i for i, t in enumerate(wallet_world) if t.barcode in page.content.decode()}
        assert shown == expected, status


def test_the_api_exposes_the_wallet_scoped_by_organisation(api_client, other_api_client, wallet_world):
    moved, kept, unsent = wallet_world
    body = api_client.get(f"/api/v1/tixngo/tickets/{moved.pk}/wallet").json()
    assert body["wallet_status"] == "TRANSFERRED" and body["owner"] == "friend-42"
    assert body["holder"]["first_name"] == "Grace"
    assert [e["to_status"] for e in body["log"] if e["tx_state"] == "PENDING"] == [
        "INJECTED", "TRANSFER_PENDING", "TRANSFERRED"]
    assert api_client.get(f"/api/v1/tixngo/tickets/{unsent.pk}/wallet").json()["wallet_status"] is None
    listed = api_client.get("/api/v1/tixngo/tickets", {"wallet_status": "INJECTED"}).json()["items"]
    assert [i["ticket_id"] for i in listed] == [kept.pk]
    bad = api_client.get("/api/v1/tixngo/tickets", {"wallet_status": "LOST"})
    assert bad.status_code == 400 and bad.json()["field"] == "wallet_status"
    # another organisation's token sees nothing of ours
    assert other_api_client.get(f"/api/v1/tixngo/tickets/{moved.pk}/wallet").status_code == 404
    assert other_api_client.get("/api/v1/tixngo/tickets").json()["items"] == []


def test_the_preview_page_renders_a_ticket_with_the_typed_templates(back_office, template_interface, catalogue,
                                                                     buyer):
    ticket = catalogue.sell_concert(1, buyer=buyer).tickets.get()
    url = reverse("admin:connector_tixngo_template_preview", args=[template_interface.pk])
    change = back_office.get(reverse("admin:jobs_interface_change", args=[template_interface.pk])).content.decode()
    assert url in change
    page = back_office.post(url, {"ticket": ticket.barcode, "t_category": "VIP {{ holder.last_name|upper }}"})
    assert "VIP LOVELACE" in page.content.decode()
    page = back_office.post(url, {"ticket": str(ticket.pk), "t_category": "{{ holder.age }}"})
    assert "holder has no &#x27;age&#x27;" in page.content.decode()
