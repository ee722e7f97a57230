"""The REST API channel (type API), idempotent by client reference *including delivery*: a replay
never sends the e-mail or SMS again (seen in the real SMTP sink and SMS sandbox), a delivery that
failed is completed by the retry, a reused reference with other content is refused naming the
difference, and two identical requests at once make one batch and one message."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections

from passgate.guest.models import GuestTicket, IssueBatch
from sandboxes.framework import free_port
from tests.conftest import bearer_client

URL = "/api/v1/guest/tickets"


def post(client, body):
    return client.post(URL, json.dumps(body), content_type="application/json")


@pytest.fixture
def client(hotel):
    return bearer_client(hotel.actor, name="api-channel")


BODY = {"method": "DAY", "user_id": "ana@example.org", "extra": {"room": "12"}, "client_reference": "crm-1",
        "deliver": ["EMAIL"]}


def test_a_replay_does_not_send_the_email_again(hotel, client, smtp):
    first = post(client, BODY)
    assert first.status_code == 201, first.json()
    assert first.json()["delivered"] == ["ana@example.org"]
    [(_, to, mail)] = smtp.wait_for(1)
    serial = first.json()["tickets"][0]["serial"]
    assert to == ["ana@example.org"] and serial in mail.get_body(preferencelist=("plain",)).get_content()
    again = post(client, BODY)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["delivered"] == [] and again.json()["tickets"] == first.json()["tickets"]
    assert len(smtp.wait_for(2, timeout=1)) == 1
    assert IssueBatch.objects.get().delivered == ["EMAIL"]


def test_a_replay_does_not_send_the_sms_again(hotel, client, sandbox, settings):
    sms = sandbox("sms")
    settings.GUEST_SMS_BACKEND, settings.GUEST_SMS_URL = "http", sms.url
    body = {**BODY, "user_id": "06 12 34 56 78", "deliver": ["SMS"], "client_reference": "crm-sms"}
    first = post(client, body)
    assert first.status_code == 201 and first.json()["delivered"] == ["+33612345678"]
    assert post(client, body).json()["delivered"] == []
    [message] = sms.state()["data"]["messages"]
    assert message["to"] == "+33612345678" and first.json()["tickets"][0]["username"] in message["text"]


def test_a_delivery_that_failed_is_completed_by_the_retry_once(hotel, client, smtp, settings):
    sink_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # the mail server is down
    failed = post(client, BODY)
    assert failed.status_code == 502 and failed.json()["field"] == "deliver"
    assert "same client_reference" in failed.json()["message"]
    assert GuestTicket.objects.count() == 1 and IssueBatch.objects.get().delivered == []
    settings.EMAIL_PORT = sink_port
    retry = post(client, BODY)
    assert retry.status_code == 200 and retry.json()["delivered"] == ["ana@example.org"]
    assert post(client, BODY).json()["delivered"] == []
    assert len(smtp.wait_for(2, timeout=1)) == 1
    assert GuestTicket.objects.count() == 1


@pytest.mark.parametrize("change, named", [
    ({"user_id": "bob@example.org"}, "user_id"),
    ({"extra": {"room": "13"}}, "extra"),
    ({"type": "SMS"}, "type"),
    ({"method": "EVENT", "valid_from": "2031-01-01", "valid_until": "2031-01-02"}, "method"),
    ({"count": 2, "deliver": []}, "count"),
])
def test_a_reused_reference_with_other_content_is_refused_naming_the_difference(hotel, client, change, named):
    body = {**BODY, "deliver": []}
    assert post(client, body).status_code == 201
    clash = post(client, {**body, **change})
    assert clash.status_code == 409, clash.json()
    assert clash.json()["field"] == "client_reference" and f"its {named} differs" in clash.json()["message"]
    assert GuestTicket.objects.count() == 1


def test_the_same_extra_written_otherwise_is_the_same_request(hotel, client):
    body = {**BODY, "deliver": [], "extra": {"room": "12", "mobile": "06 12 34 56 78"}}
    assert post(client, body).status_code == 201
    # the phone number normalises to what was stored: a retry, not a different request
    assert post(client, {**body, "extra": {"room": "12", "mobile": "+33612345678"}}).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"user_id": "06 12", "deliver": ["SMS"]}, "user_id"),
    ({"user_id": "", "deliver": ["EMAIL"]}, "user_id"),
    ({"user_id": "ana@example.org", "deliver": ["EMAIL"], "count": 2}, "deliver"),
])
def test_a_delivery_that_cannot_work_is_refused_before_issuing(hotel, client, body, field):
    response = post(client, {"method": "DAY", "extra": {"room": "1"}, **body})
    assert response.status_code == 400 and response.json()["field"] == field, response.json()
    assert not GuestTicket.objects.exists()


def test_a_channel_the_location_does_not_offer_is_refused_before_issuing(hotel, client):
    hotel.location.deliver_email = False
    hotel.location.save()
    response = post(client, BODY)
    assert (response.status_code, response.json()["field"], response.json()["found"]) == (400, "deliver", "EMAIL")
    assert not GuestTicket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_make_one_batch_and_one_email(hotel, smtp):
    clients = [bearer_client(hotel.actor, name=f"racer{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = post(clients[i], {**BODY, "client_reference": "race-1"})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in results) == [200, 201], [r.json() for r in results]
    assert results[0].json()["tickets"] == results[1].json()["tickets"]
    assert IssueBatch.objects.filter(client_reference="race-1").count() == 1
    assert GuestTicket.objects.count() == 1
    assert len(smtp.wait_for(2, timeout=2)) == 1
