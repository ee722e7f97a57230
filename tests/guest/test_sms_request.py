"""The SMS request channel through the portal, with the real SMS gateway sandbox over HTTP: the
code read from the sandbox logs in; bad, premium-rate, landline and foreign numbers are refused
with a clear page; a second request too soon gets "try again in N minutes"; a double submission
sends one SMS; a gateway that is down leaves nothing issued."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from django.utils import timezone

from passgate.guest import sms_request
from passgate.guest.models import GuestTicket, PortalAttempt, TicketType
from tests.guest.test_portal import Portal, guest

MOBILE = "06 12 34 56 78"
PREMIUM = "0899 12 34 56"  # French 089x: premium rate


@pytest.fixture
def sms(sandbox, settings):
    gateway = sandbox("sms")
    settings.GUEST_SMS_BACKEND, settings.GUEST_SMS_URL = "http", gateway.url
    return gateway


@pytest.fixture
def site(hotel):
    return Portal(hotel)


def messages(gateway) -> list[dict]:
    return gateway.state()["data"]["messages"]


def ask(client, site, number, nonce="n1"):
    return client.post(site.url("portal-sms"), {"phone": number, "nonce": nonce})


def test_code_by_sms_logs_the_guest_in(site, sms):
    client = guest()
    client.get(site.url("portal-home"), {"uamip": "10.1.0.1", "uamport": "3990", "userurl": "http://example.org/"})
    form = client.get(site.url("portal-sms"))
    assert b'name="nonce"' in form.content and b'autocomplete="tel"' in form.content
    sent = ask(client, site, MOBILE)
    assert sent.status_code == 200 and b"We sent your username and password to +33612345678" in sent.content
    [message] = messages(sms)
    assert message["to"] == "+33612345678"
    ticket = GuestTicket.objects.get(type=TicketType.SMS)
    assert ticket.user_id == "+33612345678" and ticket.method == site.sms_method
    assert ticket.username in message["text"] and ticket.password in message["text"]
    username, password = re.search(r"user (\S+) password (\S+),", message["text"]).groups()
    done = client.post(site.url("portal-login"), {"username": username, "password": password})
    assert done.status_code == 302 and done["Location"].startswith("http://10.1.0.1:3990/logon?username=")


def test_a_bad_number_is_refused_clearly(site, sms):
    page = ask(guest(), site, "12")
    assert page.status_code == 400 and b"not a valid mobile number" in page.content
    assert b'aria-describedby="phone-error phone-hint"' in page.content
    assert not messages(sms) and not GuestTicket.objects.exists()


def test_premium_rate_and_landline_numbers_are_refused(site, sms):
    number = phonenumbers.parse(PREMIUM, "FR")
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.PREMIUM_RATE
    premium = ask(guest(), site, PREMIUM)
    assert premium.status_code == 400 and b"premium-rate numbers cannot receive a code" in premium.content
    landline = ask(guest(), site, "01 42 68 53 00")
    assert landline.status_code == 400 and b"this is not a mobile number" in landline.content
    french = ask(guest(language="fr"), site, PREMIUM)
    assert "les numéros surtaxés ne peuvent pas recevoir de code".encode() in french.content
    assert not messages(sms) and not GuestTicket.objects.exists()


def test_a_country_outside_the_list_is_refused(site, sms):
    page = ask(guest(), site, "+44 7400 123456")  # a UK mobile; the location allows FR, BE, CH
    assert page.status_code == 400 and b"codes are not sent to this country here" in page.content
    assert not messages(sms)
    assert ask(guest(), site, "+41 79 123 45 67").status_code == 200  # a Swiss mobile is fine
    assert [m["to"] for m in messages(sms)] == ["+41791234567"]


def test_blank_country_list_means_the_sms_region_only(site, settings):
    site.location.sms_countries = ""
    assert sms_request.allowed_countries(site.location) == [settings.GUEST_SMS_REGION]
    assert sms_request.mobile_number(site.location, MOBILE) == "+33612345678"


def test_second_request_too_soon_and_the_daily_limit(site, sms, now):
    client = guest()
    assert ask(client, site, MOBILE, nonce="a").status_code == 200
    again = ask(guest("10.3.3.3"), site, "+33 6 12 34 56 78", nonce="b")  # from another address too
    assert again.status_code == 429 and b"Try again in 10 minutes" in again.content
    assert len(messages(sms)) == 1
    # the day's limit (3 here): after three requests spread out, the fourth waits for the oldest to leave the day
    import datetime as dt

    for minutes in (20, 40):
        sms_request.request_code(site.location, MOBILE, client_address=f"10.4.4.{minutes}", nonce=f"x{minutes}",
                                 now=now + dt.timedelta(minutes=minutes))
    with pytest.raises(sms_request.ratelimit.RateLimited) as caught:
        sms_request.request_code(site.location, MOBILE, client_address="10.4.4.99", nonce="late",
                                 now=now + dt.timedelta(hours=2))
    assert caught.value.scope == "sms-number-day" and 22 * 60 <= caught.value.minutes <= 22 * 60 + 1
    assert len(messages(sms)) == 3


def test_per_address_limit(site, sms):
    client = guest("10.5.5.5")
    numbers = [f"+33 6 12 34 56 7{i}" for i in range(6)]
    for i, number in enumerate(numbers[:5]):
        assert ask(client, site, number, nonce=f"n{i}").status_code == 200
    refused = ask(client, site, numbers[5], nonce="n5")
    assert refused.status_code == 429 and b"Try again in 60 minutes" in refused.content


def test_the_same_form_sent_twice_sends_one_sms(site, sms):
    first = ask(guest(), site, MOBILE, nonce="same")
    second = ask(guest(), site, MOBILE, nonce="same")
    assert first.status_code == second.status_code == 200
    assert len(messages(sms)) == 1 and GuestTicket.objects.count() == 1
    assert PortalAttempt.objects.filter(scope="sms-number").count() == 1


def test_a_gateway_down_leaves_nothing_issued(site, sms):
    sms.faults(down=True)
    page = ask(guest(), site, MOBILE)
    assert page.status_code == 503 and b"could not be sent" in page.content
    assert not GuestTicket.objects.exists() and not PortalAttempt.objects.exists()
    sms.clear_faults()
    assert ask(guest(), site, MOBILE, nonce="retry").status_code == 200  # the failed try did not count


def test_no_sms_method_no_sms_page(site, hotel):
    from passgate.guest import services

    services.update_location(hotel.actor, site.location, sms_method=None)
    assert guest().get(site.url("portal-sms")).status_code == 404
    assert b"Get a code by SMS" not in guest().get(site.url("portal-home")).content


def test_a_variable_sms_method_gives_its_shortest_stay_from_today(site, hotel, sms):
    from passgate.guest import services

    services.update_location(hotel.actor, site.location, sms_method=hotel.variable)
    done = sms_request.request_code(site.location, MOBILE, client_address="10.6.6.6", nonce="v")
    ticket = done.ticket
    assert done.sent and ticket.type == TicketType.SMS and ticket.method == hotel.variable
    assert (ticket.expires_at - ticket.valid_from).days == hotel.variable.min_days
    assert ticket.valid_from <= timezone.now() < ticket.expires_at
