"""Delivery through real parts: the PDF slip (its QR decoded), e-mail through the SMTP sink, SMS
through the SMS gateway sandbox over HTTP; bad numbers and a gateway that is down are clear errors."""

from __future__ import annotations

import datetime as dt
import io
import json

import pypdf
import pytest
from django.utils import timezone

from passgate.errors import InvalidInput, PassgateError
from passgate.guest import delivery, services
from passgate.jobs.partner_http import PartnerError
from tests.conftest import bearer_client


def test_portal_qr_carries_the_credentials_and_wifi_qr_the_psk(hotel):
    ticket = hotel.issue()[0]
    assert delivery.qr_payload(ticket, hotel.location) == (
        f"https://portal.example/login?username={ticket.username}&password={ticket.password}")
    psk = services.create_location(hotel.actor, code="POOL", name="Pool", ssid="Pool;Bar", qr_style="WIFI_PSK",
                                   wifi_password='se"cret')
    assert delivery.qr_payload(ticket, psk) == 'WIFI:T:WPA;S:Pool\\;Bar;P:se\\"cret;;'
    with pytest.raises(InvalidInput) as refused:
        services.create_location(hotel.actor, code="X", name="X", ssid="X", qr_style="WIFI_PSK")
    assert refused.value.field == "wifi_password"


def test_slip_pdf_holds_credentials_and_the_qr_image(hotel):
    ticket = hotel.issue()[0]
    pdf = pypdf.PdfReader(io.BytesIO(delivery.slip_pdf([ticket])))
    text = pdf.pages[0].extract_text()
    assert ticket.username in text and ticket.password in text and "Hotel-Guest" in text
    assert "1 day(s) from the first login" in text
    assert len(pdf.pages[0].images) == 1


def test_email_has_text_html_and_the_slip(hotel, smtp, settings):
    ticket = hotel.issue(user_id="ana@example.org")[0]
    assert delivery.send_email(ticket) == "ana@example.org"
    ((_, recipients, message),) = smtp.wait_for(1)
    assert recipients == ["ana@example.org"]
    kinds = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in kinds and "text/html" in kinds and "application/pdf" in kinds
    body = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert ticket.password.encode() in body


def test_sms_through_the_gateway_sandbox(hotel, sandbox, settings):
    sms = sandbox("sms")
    settings.GUEST_SMS_BACKEND, settings.GUEST_SMS_URL = "http", sms.url
    ticket = hotel.issue(user_id="06 12 34 56 78")[0]
    assert delivery.send_sms(ticket) == "+33612345678"
    (message,) = sms.state()["data"]["messages"]
    assert message["to"] == "+33612345678" and ticket.password in message["text"]
    with pytest.raises(InvalidInput) as bad:
        delivery.send_sms(ticket, "12")
    assert bad.value.field == "user_id" and bad.value.found == "12"
    assert len(sms.state()["data"]["messages"]) == 1
    sms.faults(down=True)
    with pytest.raises(PartnerError):
        delivery.send_sms(ticket)


def test_api_resend_by_sms_and_a_bad_number(hotel, sandbox, settings):
    sms = sandbox("sms")
    settings.GUEST_SMS_BACKEND, settings.GUEST_SMS_URL = "http", sms.url
    client = bearer_client(hotel.actor, name="api")
    ticket = hotel.issue(user_id="+41 79 123 45 67")[0]
    ok = client.post(f"/api/v1/guest/tickets/{ticket.serial}/resend", json.dumps({"channel": "SMS"}),
                     content_type="application/json")
    assert ok.status_code == 200 and ok.json()["to"] == "+41791234567"
    bad = client.post(f"/api/v1/guest/tickets/{ticket.serial}/resend", json.dumps({"channel": "SMS", "to": "abc"}),
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"] == "user_id"
    assert [m["to"] for m in sms.state()["data"]["messages"]] == ["+41791234567"]


def test_location_without_the_channel_refuses_it(hotel):
    hotel.location.deliver_email = False
    hotel.location.save()
    ticket = hotel.issue(user_id="ana@example.org")[0]
    with pytest.raises(PassgateError, match="does not deliver by e-mail"):
        delivery.send_email(ticket)


def test_special_validity_text_in_the_location_zone(hotel):
    start = dt.datetime(2030, 1, 10, 9, tzinfo=dt.UTC)
    ticket = hotel.issue(hotel.special, valid_from=start, valid_until=start + dt.timedelta(hours=8))[0]
    assert delivery.validity_text(ticket, hotel.location) == "from 10/01/2030 10:00 until 10/01/2030 18:00"
    assert timezone.is_aware(ticket.expires_at)
