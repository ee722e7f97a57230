"""The back office: Create ticket (type, then method, then user id and extra fields), the issued
list with its filters and operations, a NAS client's write-only secret."""

from __future__ import annotations

import pytest
from django.test import Client

from passgate.guest import services
from passgate.guest.models import GuestTicket, NasClient
from passgate.jobs.secrets import decrypt
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, ensure_user, set_membership


@pytest.fixture
def desk(hotel):
    user = ensure_user("desk", "pw-desk-123")
    set_membership(hotel.actor, user, Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


def test_create_ticket_type_then_method_then_fields(hotel, desk):
    page = desk.get("/admin/guest/guestticket/add/", {"type": "INDIVIDUAL"})
    assert page.status_code == 200
    assert b"Day pass" in page.content and b"Conference" not in page.content  # only Single methods
    form = desk.get("/admin/guest/guestticket/add/", {"type": "INDIVIDUAL", "method": hotel.single.pk})
    assert b'name="extra_room"' in form.content
    refused = desk.post("/admin/guest/guestticket/add/", {"type": "INDIVIDUAL", "method": hotel.single.pk,
                                                         "count": 1, "user_id": "x", "extra_room": "12",
                                                         "extra_mobile": "0000"}, follow=True)
    assert b"not a valid mobile number" in refused.content and not GuestTicket.objects.exists()
    done = desk.post("/admin/guest/guestticket/add/", {"type": "INDIVIDUAL", "method": hotel.single.pk,
                                                      "count": 1, "user_id": "ana@example.org",
                                                      "extra_room": "12", "extra_mobile": "06 12 34 56 78"},
                     follow=True)
    ticket = GuestTicket.objects.get()
    assert ticket.extra == {"room": "12", "mobile": "+33612345678"} and ticket.type == "INDIVIDUAL"
    assert b"Print the slip" in done.content
    slip = desk.get(f"/admin/guest/guestticket/{ticket.pk}/slip.pdf")
    assert slip["Content-Type"] == "application/pdf" and slip.content.startswith(b"%PDF")


def test_issued_list_filters_and_cancel(hotel, desk, radius):
    a, b = hotel.issue(count=2, user_id="ana@example.org")
    radius.acct("Start", a.username, "sess-a")
    listing = desk.get("/admin/guest/guestticket/", {"status__exact": "IN_USE"})
    assert a.serial.encode() in listing.content and b.serial.encode() not in listing.content
    assert desk.get("/admin/guest/guestticket/", {"connections": "0"}).content.count(b.serial.encode()) >= 1
    assert a.serial.encode() not in desk.get("/admin/guest/guestticket/", {"connections": "0"}).content
    response = desk.post("/admin/guest/guestticket/", {"action": "cancel", "_selected_action": [a.pk]},
                         follow=True)
    assert b"Disconnect-Request is on its way" in response.content
    a.refresh_from_db()
    assert a.status == "CANCELLED"
    csv = desk.post("/admin/guest/guestticket/", {"action": "export_csv", "_selected_action": [a.pk, b.pk]})
    assert len(b"".join(csv.streaming_content).decode().splitlines()) == 3
    detail = desk.get(f"/admin/guest/guestticket/{a.pk}/change/")
    assert b"sess-a" not in detail.content and b"aa-bb-cc-00-00-01" in detail.content


def test_nas_secret_is_write_only(hotel, desk):
    page = desk.get(f"/admin/guest/nasclient/{hotel.nas.pk}/change/")
    assert b"radius-secret" not in page.content
    data = {"organisation": hotel.actor.organisation.pk, "location": hotel.location.pk, "name": "Lobby",
            "network": "127.0.0.1/32", "nas_identifier": "", "coa_port": 3799, "secret": ""}
    desk.post(f"/admin/guest/nasclient/{hotel.nas.pk}/change/", data)
    assert services.nas_secret(NasClient.objects.get(pk=hotel.nas.pk)) == "radius-secret"
    desk.post(f"/admin/guest/nasclient/{hotel.nas.pk}/change/", {**data, "secret": "new-one"})
    assert decrypt(NasClient.objects.get(pk=hotel.nas.pk).secret_encrypted) == "new-one"


def test_the_sessions_fragment_follows_accounting_and_stays_in_its_organisation(hotel, radius, desk, other_org):
    ticket = hotel.issue()[0]
    page = desk.get(f"/admin/guest/guestticket/{ticket.pk}/change/")
    url = f"/admin/guest/guestticket/{ticket.pk}/sessions/"
    assert f'data-url="{url}"'.encode() in page.content and b"guest/sessions-live.js" in page.content
    empty = desk.get(url)
    assert empty.status_code == 200 and b"<table>" in empty.content and b"aa-bb-cc-00-00-01" not in empty.content
    radius.acct("Start", ticket.username, "live1", Framed_IP_Address="10.1.2.3")
    started = desk.get(url).content
    assert b"aa-bb-cc-00-00-01" in started and b"10.1.2.3" in started and b"open" in started
    radius.acct("Interim-Update", ticket.username, "live1", Acct_Session_Time=125, Acct_Output_Octets=3 * 2**30)
    updated = desk.get(url).content
    assert updated != started and b"3.0 GiB" in updated and b"0:02:05" in updated
    radius.acct("Stop", ticket.username, "live1", Acct_Session_Time=130, Acct_Terminate_Cause="User-Request")
    assert b"User-Request" in desk.get(url).content

    stranger = ensure_user("stranger", "pw-stranger-123")
    set_membership(Actor.system(other_org, "other-admin"), stranger, Role.ADMINISTRATOR)
    client = Client()
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # not logged in: the admin's login page
    assert "no-store" in desk.get(url)["Cache-Control"]  # polled: never a cached copy
