"""A world of every kind of row in two organisations, and a back-office user who
is a member of both: ADMINISTRATOR of "demo" (Europe/Paris), BOX_OFFICE of
"other" (Europe/Zurich)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from access.conftest import Venue, do_scan, venue  # noqa: F401  (the access tests' venue: sector, doors, devices)
from django.contrib.auth import get_user_model
from django.forms import CheckboxInput, MultiWidget
from django.test import Client
from django.utils import timezone

from passgate.access import services as access
from passgate.catalog import services as catalog
from passgate.catalog.models import Contingent
from passgate.connectors.fias import services as fias
from passgate.connectors.fias.codec import Record
from passgate.connectors.paypal import services as paypal
from passgate.guest import services as guest
from passgate.jobs import services as jobs
from passgate.orgs.models import Membership, Organisation, Role
from passgate.orgs.timezones import zone_of
from passgate.sales import services as sales


@dataclass
class Side:
    """Rows of one organisation, built through the services."""

    org: Organisation
    catalogue: object
    venue: Venue


def build_side(catalogue, prefix: str) -> Side:
    actor = catalogue.actor
    place = Venue(catalogue, prefix=prefix)
    catalog.create(actor, Contingent, code=f"{prefix}WEB", name="Web quota", channel=catalogue.box_office,
                   product=catalogue.concert, performance=catalogue.performance, quota=10)
    buyer = sales.create_contact(actor, first_name="Ann", last_name=f"{prefix}Buyer", email="ann@example.org")
    catalogue.sell_concert(buyer=buyer)
    access.set_external_mapping(actor, "otipass", "S26", f"{prefix}CARD", catalogue.pass_tariff)
    (ticket,) = place.sell_tonight()
    do_scan(place.device, ticket.barcode)
    access.upload_offline(place.device2, [{"barcode": ticket.barcode, "nonce": f"{prefix}x1", "decision": "GRANTED",
                                           "scanned_at": timezone.now().isoformat()}])
    interface = jobs.create_interface(actor, type="ECHO", name=f"{prefix}Echo", url="http://127.0.0.1:9/",
                                      username="demo", secret="s3cret-key")
    jobs.create_schedule(actor, interface=interface, function="ECHO_TICKETS")
    # guest WiFi: a location, its NAS client, a method and a ticket
    lobby = guest.create_location(actor, code=f"{prefix}LOBBY", name="Lobby", ssid="Guest",
                                  portal_url="https://portal.example/")
    guest.create_nas_client(actor, lobby, name="NAS", network="10.0.0.0/24" if prefix else "10.1.0.0/24",
                            secret="radius")
    day = guest.create_method(actor, lobby, code=f"{prefix}DAY", name="Day", format="SINGLE",
                              duration=dt.timedelta(days=1))
    guest.issue_tickets(actor, guest.IssueRequest(method=day))
    # hotel PMS: a link, a stay checked in, a posting to its room
    stay = guest.create_method(actor, lobby, code=f"{prefix}STAY", name="Stay", format="SPECIAL")
    link = fias.create_link(actor, lobby, name="PMS", host="127.0.0.1", port=9, access_method=stay)
    fias.check_in(link, Record.make("GI", RN="101", G_=f"{prefix}R1", GN="Martin"))
    fias.request_posting(fias.Charge(location=lobby, method=day, amount=Decimal("5"), currency="EUR",
                                     room_number="101", last_name="Martin"))
    # PayPal: the lobby's account (its location is an organisation-scoped reference)
    paypal.create_account(actor, client_id=f"{prefix}client", secret="pp-secret", base_url="https://paypal.example",
                          location=lobby)
    return Side(org=actor.organisation, catalogue=catalogue, venue=place)


@pytest.fixture
def world(catalogue, other_catalogue):
    """`b`: the organisation the user administers; `a`: the other one they belong to."""
    return build_side(catalogue, ""), build_side(other_catalogue, "O")


@pytest.fixture
def two_org_user(org, other_org):
    user = get_user_model().objects.create_user("twofold", password="pw-twofold", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    Membership.objects.create(user=user, organisation=other_org, role=Role.BOX_OFFICE)
    return user


@pytest.fixture
def two_org_client(two_org_user) -> Client:
    client = Client()
    client.force_login(two_org_user)
    return client


def _put_form(data: dict, form) -> None:
    for bound in form:
        widget = getattr(bound.field.widget, "widget", bound.field.widget)  # unwrap the admin's related wrapper
        value = bound.value()
        if isinstance(widget, MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for i, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
                data[f"{bound.html_name}_{i}"] = sub.format_value(part) or ""
        elif isinstance(widget, CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif value is None:
            data[bound.html_name] = ""
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = str(value)


def change_form_data(page, obj) -> dict:
    """What the browser would post back unchanged from a change page (main form and inlines),
    dates written in the object's organisation's zone as the page shows them."""
    data: dict = {}
    with timezone.override(zone_of(obj)):
        _put_form(data, page.context["adminform"].form)
        for inline in page.context["inline_admin_formsets"]:
            formset = inline.formset
            _put_form(data, formset.management_form)
            for form in formset.forms:
                _put_form(data, form)
    return data

