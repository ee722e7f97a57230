"""The PMS services without the wire: link settings refused clearly, stays' usernames, postings
(who may charge, PA once), and the portal's "charge to my room" pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from passgate.connectors.fias import services
from passgate.connectors.fias.codec import Record
from passgate.connectors.fias.models import PmsPosting, PostingStatus
from passgate.errors import Conflict, InvalidInput
from passgate.guest import channels, stays
from passgate.guest.models import Disconnect, GuestStatus, GuestTicket

from .conftest import Hotel

pytestmark = pytest.mark.django_db


@pytest.fixture
def hotel(admin_actor):
    return Hotel(admin_actor, port=5010)  # no link process here: services only


def gi(room, reservation, last_name, **more):
    return Record.make("GI", RN=room, G_=reservation, GN=last_name, **more)


@pytest.mark.parametrize("field, value, words", [
    ("port", 70000, "1–65535"),
    ("username_template", "{rooom}", "{room}"),
    ("password_template", "fixed", "{last_name}"),
    ("checkout_hour", 24, "0–23"),
    ("encoding", "cp1252", "latin-1"),
])
def test_link_settings_are_refused_naming_the_field(hotel, admin_actor, field, value, words):
    with pytest.raises(InvalidInput) as err:
        services.update_link(admin_actor, hotel.link, **{field: value})
    assert err.value.field == field and words in str(err.value.expected)


def test_a_link_needs_a_special_method(hotel, admin_actor):
    with pytest.raises(InvalidInput) as err:
        services.update_link(admin_actor, hotel.link, access_method=hotel.day)
    assert err.value.field == "access_method" and err.value.found == "VARIABLE"
    with pytest.raises(Conflict):
        services.create_link(admin_actor, hotel.location, name="again", host="h", port=1, access_method=hotel.stay)


def test_a_check_in_twice_is_one_ticket_and_a_later_gi_updates_it(hotel):
    first, created = services.check_in(hotel.link, gi("101", "R1", "Martin", GD="301231"))
    again, created_again = services.check_in(hotel.link, gi("101", "R1", "Martin-Roux", GD="301231"))
    assert created and not created_again and again.pk == first.pk
    assert GuestTicket.objects.get().last_name == "Martin-Roux"


def test_credential_templates(hotel, admin_actor):
    services.update_link(admin_actor, hotel.link, username_template="{room}-{reservation}",
                         password_template="{first_name}")
    ticket, _ = services.check_in(hotel.link, gi("7", "R7", "Klein", GF="Ada"))
    assert (ticket.username, ticket.password) == ("7-R7", "Ada")


def test_a_check_out_twice_is_harmless_and_a_finished_stay_gives_its_username_back(hotel, admin_actor):
    ticket, _ = services.check_in(hotel.link, gi("9", "R9", "Weiss"))
    assert services.check_out(hotel.link, Record.make("GO", RN="9", G_="R9")) == 0
    assert services.check_out(hotel.link, Record.make("GO", RN="9", G_="R9")) == 0
    assert stays.end_stay(admin_actor, ticket) == []
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.EXPIRED and ticket.username == "9~R9"
    assert not Disconnect.objects.exists()


def test_a_stay_ends_at_the_check_out_hour_in_the_location_zone(hotel):
    end = stays.stay_end(hotel.location, dt.date(2030, 7, 1), 11)
    assert end.isoformat() == "2030-07-01T11:00:00+02:00"
    with pytest.raises(InvalidInput) as err:
        stays.stay_end(hotel.location, dt.date(2030, 7, 1), 25)
    assert err.value.field == "checkout_hour"


def charge(hotel, room="101", last_name="Martin"):
    today = dt.date.today()
    return services.request_posting(services.Charge(location=hotel.location, method=hotel.day,
                                                    amount=Decimal("9.00"), currency="EUR", room_number=room,
                                                    last_name=last_name, first_day=today,
                                                    last_day=today + dt.timedelta(days=1)))


def test_only_the_guest_of_a_room_may_charge_it(hotel):
    services.check_in(hotel.link, gi("101", "R1", "Martin"))
    with pytest.raises(InvalidInput) as err:
        charge(hotel, last_name="Dupont")
    assert err.value.field == "last_name" and "Dupont" in err.value.found
    assert not PmsPosting.objects.exists()
    first, second = charge(hotel, last_name=" martin "), charge(hotel)
    assert (first.sequence, second.sequence) == (1, 2) and first.amount_cents == 900


def test_pa_ok_books_once_and_a_late_answer_changes_nothing(hotel):
    services.check_in(hotel.link, gi("101", "R1", "Martin"))
    posting = charge(hotel)
    services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="OK"))
    services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="OK"))
    services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="NG", CT="late"))
    posting.refresh_from_db()
    assert posting.status == PostingStatus.OK and posting.answer == "OK"
    assert GuestTicket.objects.filter(batch__client_reference__startswith="pms-posting").count() == 1
    refused = charge(hotel)
    services.posting_answer(hotel.link, Record.make("PA", P_=2, AS="UR", CT="unknown room"))
    services.posting_answer(hotel.link, Record.make("PA", P_=2, AS="OK"))  # too late: refused stays refused
    refused.refresh_from_db()
    assert refused.status == PostingStatus.REFUSED and refused.ticket is None and refused.answer == "UR unknown room"


@pytest.mark.urls("tests.connectors.fias.portal_urls")
def test_the_portal_charges_the_room_and_lands_the_guest_once_pa_says_ok(hotel, org):
    assert "ROOM" in [p.code for p in channels.payment_providers(hotel.location)]
    services.check_in(hotel.link, gi("101", "R1", "Martin"))
    client = Client()
    kwargs = {"organisation": org.code, "location": hotel.location.code}
    page = client.get(reverse("portal-buy", kwargs=kwargs))
    assert page.status_code == 200 and b"Room number" in page.content and b"9.00" in page.content

    wrong = client.post(reverse("fias-room-charge", kwargs=kwargs), {"room_number": "101", "last_name": "Nobody"})
    assert wrong.status_code == 400 and b"no guest of this name in this room" in wrong.content
    sent = client.post(reverse("fias-room-charge", kwargs=kwargs), {"room_number": "101", "last_name": "martin"})
    assert sent.status_code == 302
    waiting = client.get(sent["Location"])
    assert waiting.status_code == 200 and b"Asking the hotel" in waiting.content
    assert not GuestTicket.objects.filter(batch__client_reference__startswith="pms-posting").exists()

    services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="OK"))
    landed = client.get(sent["Location"])
    ticket = PmsPosting.objects.get().ticket
    assert landed.status_code == 302 and landed["Location"] == channels.landing_url(ticket)
    assert client.get(sent["Location"][:-5] + "xxxx/").status_code == 404  # a forged link


@pytest.mark.urls("tests.connectors.fias.portal_urls")
def test_a_refused_charge_says_so(hotel, org):
    services.check_in(hotel.link, gi("101", "R1", "Martin"))
    client = Client()
    kwargs = {"organisation": org.code, "location": hotel.location.code}
    client.get(reverse("portal-buy", kwargs=kwargs))
    sent = client.post(reverse("fias-room-charge", kwargs=kwargs), {"room_number": "101", "last_name": "Martin"})
    services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="NG", CT="credit limit"))
    page = client.get(sent["Location"])
    assert b"did not accept" in page.content and b"credit limit" in page.content
    assert PmsPosting.objects.get().ticket is None


def test_room_charging_is_offered_only_where_a_link_allows_it(hotel, admin_actor):
    assert "ROOM" in [p.code for p in channels.payment_providers(hotel.location)]
    services.update_link(admin_actor, hotel.link, allow_postings=False)
    assert "ROOM" not in [p.code for p in channels.payment_providers(hotel.location)]
    with pytest.raises(Conflict) as err:
        charge(hotel)
    assert err.value.field == "provider"


def test_a_booked_charge_sends_the_ticket_to_the_e_mail_given(hotel, smtp, django_capture_on_commit_callbacks):
    services.check_in(hotel.link, gi("101", "R1", "Martin"))
    today = dt.date.today()
    services.request_posting(services.Charge(location=hotel.location, method=hotel.day, amount=Decimal("4.50"),
                                             currency="EUR", room_number="101", last_name="Martin",
                                             first_day=today, last_day=today, email="martin@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        services.posting_answer(hotel.link, Record.make("PA", P_=1, AS="OK"))
    ((_, recipients, message),) = smtp.wait_for(1)
    ticket = PmsPosting.objects.get().ticket
    assert recipients == ["martin@example.org"] and ticket.password in message.get_body(("plain",)).get_content()


def test_a_change_for_an_unknown_reservation_checks_it_in(hotel):
    ticket = services.change(hotel.link, Record.make("GC", RN="330", G_="R30", GN="Lambert"))
    assert ticket.room_number == "330" and ticket.status == GuestStatus.NO_USE


def test_a_reservation_checked_in_again_after_its_check_out_is_a_new_stay(hotel):
    first, _ = services.check_in(hotel.link, gi("12", "R12", "Blanc"))
    services.check_out(hotel.link, Record.make("GO", RN="12", G_="R12"))
    again, created = services.check_in(hotel.link, gi("12", "R12", "Blanc"))
    assert created and again.pk != first.pk and again.status == GuestStatus.NO_USE and again.username == "12"
    replay, created = services.check_in(hotel.link, gi("12", "R12", "Blanc"))
    assert not created and replay.pk == again.pk
