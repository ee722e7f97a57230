"""The guest API: issue (idempotent by client reference), the issued list and its filters,
cancel, re-send, slip, CSV; scoped by organisation."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from passgate.guest.models import GuestTicket, RadiusSession
from tests.conftest import bearer_client


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def client(hotel):
    return bearer_client(hotel.actor, name="api")


def test_issue_is_idempotent_by_client_reference(hotel, client):
    body = {"method": "DAY", "count": 3, "user_id": "guest@example.org", "extra": {"room": "12"},
            "client_reference": "booking-77"}
    first = post(client, "/api/v1/guest/tickets", body)
    assert first.status_code == 201, first.json()
    tickets = first.json()["tickets"]
    assert len(tickets) == 3 and {t["type"] for t in tickets} == {"API"}
    assert len({t["serial"] for t in tickets}) == 3
    again = post(client, "/api/v1/guest/tickets", body)
    assert again.status_code == 200 and again.json()["tickets"] == tickets
    assert GuestTicket.objects.count() == 3
    clash = post(client, "/api/v1/guest/tickets", {**body, "count": 2})
    assert clash.status_code == 409 and clash.json()["field"] == "client_reference"


def test_issue_refusals_name_the_field(hotel, client):
    cases = [({"method": "NOPE"}, 404, "method"),
             ({"method": "DAY"}, 400, "extra.room"),
             ({"method": "DAY", "extra": {"room": "1", "spa": "y"}}, 400, "extra.spa"),
             ({"method": "DAY", "extra": {"room": "1", "mobile": "12"}}, 400, "extra.mobile"),
             ({"method": "STAY", "valid_from": "2030-01-01", "valid_until": "2030-03-01"}, 400, "valid_until"),
             ({"method": "DAY", "extra": {"room": "1"}, "username": "mine", "password": "x"}, 400, "username"),
             ({"method": "DAY", "count": 0}, 422, "count")]
    for body, status, field in cases:
        response = post(client, "/api/v1/guest/tickets", body)
        assert (response.status_code, response.json()["field"]) == (status, field), (body, response.json())
    assert GuestTicket.objects.count() == 0


def test_variable_is_priced_per_day_in_the_location_zone(hotel, client):
    response = post(client, "/api/v1/guest/tickets",
                    {"method": "STAY", "valid_from": "2030-07-01", "valid_until": "2030-07-03"})
    ticket = response.json()["tickets"][0]
    assert ticket["price"] == "9.00"
    # midnight in Paris (summer) to midnight after the last day
    assert dt.datetime.fromisoformat(ticket["valid_from"]) == dt.datetime(2030, 6, 30, 22, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(ticket["expires_at"]) == dt.datetime(2030, 7, 3, 22, tzinfo=dt.UTC)


def test_issued_list_filters_and_usage(hotel, client, radius):
    a, b = hotel.issue(count=2, user_id="ana@example.org")
    c = hotel.issue(user_id="+33612345678")[0]
    radius.acct("Start", a.username, "s1")
    radius.acct("Interim-Update", a.username, "s1", Acct_Input_Octets=10, Acct_Output_Octets=20,
                Acct_Session_Time=30)
    page = client.get("/api/v1/guest/tickets", {"status": "IN_USE"}).json()
    assert [t["serial"] for t in page["items"]] == [a.serial]
    assert (page["items"][0]["connections"], page["items"][0]["upload"], page["items"][0]["download"]) == (1, 10, 20)
    assert {t["serial"] for t in client.get("/api/v1/guest/tickets", {"user_id": "ana@"}).json()["items"]} == \
        {a.serial, b.serial}
    assert [t["serial"] for t in client.get("/api/v1/guest/tickets", {"connections_max": 0,
                                                                      "user_id": "+336"}).json()["items"]] == [c.serial]
    assert [t["serial"] for t in client.get("/api/v1/guest/tickets", {"username": c.username}).json()["items"]] == \
        [c.serial]
    paged = client.get("/api/v1/guest/tickets", {"limit": 2}).json()
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    detail = client.get(f"/api/v1/guest/tickets/{a.serial}").json()
    assert detail["sessions"][0]["mac"] == "aa-bb-cc-00-00-01" and detail["sessions"][0]["upload"] == 10
    csv = b"".join(client.get("/api/v1/guest/tickets.csv", {"status": "IN_USE"}).streaming_content).decode()
    assert csv.splitlines()[1].startswith(a.serial + ";")
    assert len(csv.splitlines()) == 2


def test_cancel_says_it_cuts_the_sessions(hotel, client, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "live")
    response = post(client, f"/api/v1/guest/tickets/{ticket.serial}/cancel", {})
    assert response.status_code == 200
    assert response.json()["disconnects"] == 1 and "Disconnect-Request" in response.json()["message"]
    assert response.json()["ticket"]["status"] == "CANCELLED"
    again = post(client, f"/api/v1/guest/tickets/{ticket.serial}/cancel", {})
    assert again.status_code == 409 and again.json()["found"] == "CANCELLED"
    assert RadiusSession.objects.get().disconnects.count() == 1


def test_another_organisation_sees_nothing(hotel, other_api_client):
    ticket = hotel.issue()[0]
    assert other_api_client.get("/api/v1/guest/tickets").json()["items"] == []
    assert other_api_client.get(f"/api/v1/guest/tickets/{ticket.serial}").status_code == 404
    assert post(other_api_client, f"/api/v1/guest/tickets/{ticket.serial}/cancel", {}).status_code == 404
    assert post(other_api_client, "/api/v1/guest/tickets", {"method": "DAY"}).status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == "NO_USE"


def test_read_only_token_cannot_issue_or_cancel(hotel):
    reader = bearer_client(hotel.actor, role="READ_ONLY", name="reader")
    ticket = hotel.issue()[0]
    assert post(reader, "/api/v1/guest/tickets", {"method": "DAY", "extra": {"room": "1"}}).status_code == 403
    assert post(reader, f"/api/v1/guest/tickets/{ticket.serial}/cancel", {}).status_code == 403
    assert reader.get("/api/v1/guest/tickets").status_code == 200
