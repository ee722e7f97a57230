"""The captive portal over Django's test client: every page in English and French, login with good
and bad credentials, the controller hand-off (CoovaChilli logon URL, a location's own template,
UniFi parameters kept), hotel guests, the buy page and its providers, rate limits counted in the
database, escaping of a location's name."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from passgate.errors import InvalidInput
from passgate.guest import channels, services
from passgate.guest.models import Format, GuestTicket, PortalAttempt, TicketType
from passgate.guest.portal import services as portal

PAGES = ["portal-home", "portal-login", "portal-buy", "portal-sms", "portal-hotel"]


class Portal:
    def __init__(self, hotel) -> None:
        self.hotel = hotel
        self.location = hotel.location
        self.sms_method = services.create_method(
            hotel.actor, hotel.location, code="SMS1H", name="One hour by SMS", format=Format.SINGLE,
            duration=dt.timedelta(hours=1))
        services.update_location(hotel.actor, hotel.location, languages="en,fr", sms_method=self.sms_method,
                                 sms_countries="FR,BE,CH", logo="guest/portal/logo.svg")
        self.kwargs = {"organisation": hotel.location.organisation.code, "location": hotel.location.code}

    def url(self, name: str, **more) -> str:
        return reverse(name, kwargs={**self.kwargs, **more})


@pytest.fixture
def site(hotel):
    return Portal(hotel)


def guest(address: str = "10.1.0.7", language: str = "en") -> Client:
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize("name", PAGES)
def test_each_page_renders_in_english_and_french(site, name):
    en = guest(language="en-GB,en;q=0.9").get(site.url(name))
    fr = guest(language="fr-FR,fr;q=0.9,en;q=0.5").get(site.url(name))
    assert en.status_code == fr.status_code == 200
    assert b'<html lang="en">' in en.content and b'<html lang="fr">' in fr.content
    assert en["Content-Language"] == "en" and fr["Content-Language"] == "fr"
    assert en.context["location"] == site.location  # every page has the location (agreement)
    assert "Toutes les façons de se connecter".encode() in fr.content and b"All the ways to get online" in en.content
    assert b"Hotel lobby" in en.content and b"/static/guest/portal/logo.svg" in en.content
    assert b"http://" not in en.content.replace(b'xmlns="http://www.w3.org', b"")  # nothing from outside


def test_language_switcher_and_location_languages(site):
    client = guest(language="de-DE,de;q=0.9")
    assert client.get(site.url("portal-home"))["Content-Language"] == "en"  # German not offered: first one
    switched = client.get(site.url("portal-home"), {"lang": "fr"})
    assert switched["Content-Language"] == "fr" and b"Bienvenue" in switched.content
    assert client.get(site.url("portal-login"))["Content-Language"] == "fr"  # the choice is kept
    services.update_location(site.hotel.actor, site.location, languages="fr")
    only_fr = guest(language="en").get(site.url("portal-home"))
    assert only_fr["Content-Language"] == "fr" and b'hreflang="en"' not in only_fr.content


def test_accept_language_is_ranked_by_q(site):
    assert portal.pick_language(site.location, accept_language="en;q=0.4, fr-CA;q=0.8") == "fr"
    assert portal.pick_language(site.location, accept_language="it, en;q=0.1") == "en"
    assert portal.pick_language(site.location, chosen="de", accept_language="fr") == "fr"


def test_login_good_and_bad_credentials_without_a_controller(site):
    [ticket] = site.hotel.issue()
    client = guest()
    bad = client.post(site.url("portal-login"), {"username": ticket.username, "password": "wrong"})
    assert bad.status_code == 200 and b"Wrong username or password" in bad.content
    assert b'aria-describedby="login-error"' in bad.content and b'id="login-error"' in bad.content
    good = client.post(site.url("portal-login"), {"username": ticket.username, "password": ticket.password})
    assert good.status_code == 302 and good["Location"] == channels.landing_url(ticket)
    landing = client.get(good["Location"])
    assert ticket.username.encode() in landing.content and ticket.password.encode() in landing.content
    assert b"http-equiv" not in landing.content  # no controller: the credentials are only shown


def test_login_refuses_a_cancelled_or_expired_ticket_and_another_location(site, hotel):
    a, b = hotel.issue(count=2)
    services.cancel_ticket(hotel.actor, a)
    GuestTicket.objects.filter(pk=b.pk).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    for t in (a, b):
        assert portal.check_credentials(site.location, t.username, t.password) is None
    [c] = hotel.issue()
    other = services.create_location(hotel.actor, code="BAR", name="Bar", ssid="Bar", qr_style="PORTAL",
                                     portal_url="https://portal.example/bar")
    assert portal.check_credentials(other, c.username, c.password) is None
    assert portal.check_credentials(site.location, c.username, c.password) == c


def test_coova_hand_off_url_encodes_the_credentials_and_carries_userurl(site, hotel):
    [ticket] = hotel.issue(method=hotel.special, username="ana&bo b", password="p@ss=w/rd+",
                           valid_from=dt.date.today(), valid_until=dt.date.today() + dt.timedelta(days=1))
    client = guest()
    arrival = client.get(site.url("portal-home"), {"uamip": "10.1.0.1", "uamport": "3990", "challenge": "00" * 16,
                                                    "userurl": "http://example.org/news?a=1&b=2",
                                                    "mac": "AA-BB-CC-DD-EE-FF", "nasid": "lobby"})
    assert arrival.status_code == 200
    assert client.session["portal_uam"]["uamip"] == "10.1.0.1"
    done = client.post(site.url("portal-login"), {"username": "ana&bo b", "password": "p@ss=w/rd+"})
    assert done.status_code == 302
    target = urlsplit(done["Location"])
    assert (target.scheme, target.netloc, target.path) == ("http", "10.1.0.1:3990", "/logon")
    assert parse_qs(target.query) == {"username": ["ana&bo b"], "password": ["p@ss=w/rd+"],
                                      "userurl": ["http://example.org/news?a=1&b=2"]}


def test_location_template_with_chap_response(site, hotel):
    services.update_location(hotel.actor, site.location, controller_login_url=(
        "http://{uamip}:{uamport}/logon?username={username}&response={response}&userurl={userurl}"))
    [ticket] = hotel.issue()
    challenge = "0123456789abcdef0123456789abcdef"
    client = guest()
    client.get(site.url("portal-login"), {"uamip": "10.1.0.1", "uamport": "3990", "challenge": challenge,
                                          "userurl": "http://example.org/"})
    done = client.post(site.url("portal-login"), {"username": ticket.username, "password": ticket.password})
    query = parse_qs(urlsplit(done["Location"]).query)
    expected = hashlib.md5(b"\x00" + ticket.password.encode() + bytes.fromhex(challenge)).hexdigest()
    assert query == {"username": [ticket.username], "response": [expected], "userurl": ["http://example.org/"]}


def test_unifi_parameters_are_kept_and_used_by_the_template(site, hotel):
    services.update_location(hotel.actor, site.location, controller_login_url=(
        "https://unifi.example:8843/guest/s/default/login?user={username}&pass={password}&mac={id}&ap={ap}"))
    [ticket] = hotel.issue()
    client = guest()
    client.get(site.url("portal-home"), {"id": "aa:bb:cc:dd:ee:ff", "ap": "11:22:33:44:55:66", "t": "1700000000",
                                         "url": "http://example.org/", "ssid": "Hotel-Guest"})
    assert client.session["portal_uam"] == {"id": "aa:bb:cc:dd:ee:ff", "ap": "11:22:33:44:55:66",
                                            "t": "1700000000", "url": "http://example.org/", "ssid": "Hotel-Guest"}
    done = client.post(site.url("portal-login"), {"username": ticket.username, "password": ticket.password})
    assert done["Location"].startswith("https://unifi.example:8843/guest/s/default/login?")
    assert parse_qs(urlsplit(done["Location"]).query)["mac"] == ["aa:bb:cc:dd:ee:ff"]
    # the landing page of a ticket issued by a channel hands off the same way
    landing = client.get(channels.landing_url(ticket))
    assert b'http-equiv="refresh"' in landing.content and b"unifi.example:8843" in landing.content
    assert b'href="http://example.org/"' in landing.content


def test_hotel_login_found_and_not_found(site, hotel):
    [stay] = services.issue_tickets(hotel.actor, services.IssueRequest(
        method=hotel.single, type=TicketType.PMS, room_number="204", last_name="Müller-Lévy",
        extra={"room": "204"})).tickets
    client = guest()
    client.get(site.url("portal-home"), {"uamip": "10.1.0.1", "uamport": "3990"})
    assert b"room number" in client.get(site.url("portal-home")).content
    missing = client.post(site.url("portal-hotel"), {"room": "205", "last_name": "Müller-Lévy"})
    assert missing.status_code == 200 and b"No stay was found" in missing.content
    assert b'aria-describedby="hotel-error"' in missing.content
    found = client.post(site.url("portal-hotel"), {"room": " 204", "last_name": "  muller-levy "})
    assert parse_qs(urlsplit(found["Location"]).query)["username"] == [stay.username]


def test_rate_limit_is_counted_in_the_database_across_workers(site, hotel):
    """Two clients with their own sessions stand for two gunicorn workers: only the database
    is shared, and the eleventh wrong password from the address is refused by either."""
    [ticket] = hotel.issue()
    first, second = guest("10.9.9.9"), guest("10.9.9.9")
    for i in range(portal.LOGIN_LIMIT_COUNT):
        (first if i % 2 else second).post(site.url("portal-login"), {"username": ticket.username, "password": "x"})
    assert PortalAttempt.objects.filter(scope="login-address", key="10.9.9.9").count() == 10
    for client in (first, second):
        refused = client.post(site.url("portal-login"), {"username": ticket.username, "password": ticket.password})
        assert refused.status_code == 429 and b"Try again in 15 minutes" in refused.content
    french = guest("10.9.9.9", "fr").post(site.url("portal-login"), {"username": "a", "password": "b"})
    assert "Réessayez dans 15 minutes".encode() in french.content
    # another address is not affected
    assert guest("10.9.9.8").post(site.url("portal-login"), {"username": ticket.username,
                                                              "password": ticket.password}).status_code == 302


def test_rate_limit_minutes_are_computed_from_the_oldest_attempt(site, now):
    from passgate.guest.portal import ratelimit

    limit = ratelimit.Limit("t", 2, dt.timedelta(minutes=10))
    org = site.location.organisation
    ratelimit.record(org, "t", "k", now - dt.timedelta(minutes=7))
    ratelimit.check(org, limit, "k", now)
    ratelimit.record(org, "t", "k", now - dt.timedelta(minutes=1))
    with pytest.raises(ratelimit.RateLimited) as caught:
        ratelimit.check(org, limit, "k", now)
    assert caught.value.minutes == 3  # the attempt 7 minutes ago leaves the window in 3
    ratelimit.check(org, limit, "k", now + dt.timedelta(minutes=3, seconds=1))


def test_hotel_login_is_rate_limited(site):
    client = guest("10.2.2.2")
    for _ in range(portal.HOTEL_LIMIT_COUNT):
        client.post(site.url("portal-hotel"), {"room": "1", "last_name": "x"})
    refused = client.post(site.url("portal-hotel"), {"room": "1", "last_name": "x"})
    assert refused.status_code == 429 and b"Try again in 15 minutes" in refused.content


def test_buy_page_without_provider_says_payment_is_not_available(site):
    page = guest().get(site.url("portal-buy"))
    assert b"Payment is not available here" in page.content
    assert b"Day pass" not in page.content


def test_buy_page_builds_the_purchase_for_a_provider(site, hotel):
    from django.http import HttpResponse

    seen = []
    provider = channels.PaymentProvider(code="TEST", label="Test pay", available=lambda loc: True,
                                        start=lambda request, purchase: seen.append(purchase) or HttpResponse("go"))
    channels.register_payment_provider(provider)
    try:
        page = guest().get(site.url("portal-buy"))
        assert b"Pay with Test pay" in page.content and b"Stay" in page.content
        assert b"Conference" not in page.content  # Special and free methods are not sold here
        today = dt.date.today() + dt.timedelta(days=1)
        bad = guest().post(site.url("portal-buy"), {"method": "STAY", "first_day": str(today),
                                                    "last_day": str(today + dt.timedelta(days=30)), "provider": "TEST"})
        assert bad.status_code == 400 and b"choose between 1 and 14 days" in bad.content
        assert b'aria-describedby="last_day-error"' in bad.content and not seen
        ok = guest().post(site.url("portal-buy"), {"method": "STAY", "first_day": str(today),
                                                   "last_day": str(today + dt.timedelta(days=2)),
                                                   "email": "ana@example.org", "provider": "TEST"})
        assert ok.content == b"go"
        [purchase] = seen
        assert purchase.amount == Decimal("9.00") and purchase.method == hotel.variable
        assert (purchase.first_day, purchase.last_day, purchase.email) == (today, today + dt.timedelta(days=2),
                                                                           "ana@example.org")
        guest().post(site.url("portal-buy"), {"method": "DAY", "provider": "TEST"})
        assert seen[1].amount == Decimal("5.00") and seen[1].first_day is None
    finally:
        channels._providers.pop("TEST")


def test_landing_link_forged_or_of_another_location(site, hotel):
    [ticket] = hotel.issue()
    assert guest().get(site.url("portal-ticket", token="forged:token")).status_code == 404
    other = services.create_location(hotel.actor, code="BAR", name="Bar", ssid="Bar", qr_style="PORTAL",
                                     portal_url="https://portal.example/bar")
    token = channels.ticket_token(ticket)
    wrong = guest().get(reverse("portal-ticket", kwargs={"organisation": other.organisation.code,
                                                         "location": other.code, "token": token}))
    assert wrong.status_code == 404 and ticket.password.encode() not in wrong.content


def test_a_location_name_with_script_is_escaped(site, hotel):
    services.update_location(hotel.actor, site.location, name='<script>alert("x")</script>')
    page = guest().get(site.url("portal-home"))
    assert b"<script>" not in page.content and b"&lt;script&gt;" in page.content


def test_unknown_portal_is_404(site):
    assert guest().get("/portal/nope/LOBBY/").status_code == 404


def test_portal_settings_are_validated(site, hotel):
    bad = [({"languages": "en,de"}, "languages"), ({"languages": ""}, "languages"),
           ({"sms_countries": "FR,XX"}, "sms_countries"), ({"controller_login_url": "http://{uamip}/{nope}"},
                                                           "controller_login_url"),
           ({"logo": "guest/portal/missing.png"}, "logo"), ({"sms_method": hotel.special}, "sms_method")]
    other = services.create_location(hotel.actor, code="BAR", name="Bar", ssid="Bar", qr_style="PORTAL",
                                     portal_url="https://portal.example/bar")
    bad.append(({"sms_method": services.create_method(hotel.actor, other, code="BARSMS", name="x",
                                                      format=Format.SINGLE, duration=dt.timedelta(hours=1))},
                "sms_method"))
    for fields, name in bad:
        with pytest.raises(InvalidInput) as caught:
            services.update_location(hotel.actor, site.location, **fields)
        assert caught.value.field == name
        site.location.refresh_from_db()


def test_admin_shows_portal_field_errors(site, hotel):
    from passgate.orgs.models import Role
    from passgate.orgs.services import ensure_user, set_membership

    user = ensure_user("boss", "pw-boss-123")
    set_membership(hotel.actor, user, Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    url = f"/admin/guest/location/{site.location.pk}/change/"
    form = client.get(url)
    assert b'name="sms_countries"' in form.content and b"One hour by SMS" in form.content
    other = services.create_location(hotel.actor, code="BAR", name="Bar", ssid="Bar", qr_style="PORTAL",
                                     portal_url="https://portal.example/bar")
    elsewhere = services.create_method(hotel.actor, other, code="BARSMS", name="Bar by SMS", format=Format.SINGLE,
                                       duration=dt.timedelta(hours=1))
    data = {"code": "LOBBY", "name": "Hotel lobby", "time_zone": "Europe/Paris", "ssid": "Hotel-Guest",
            "qr_style": "PORTAL", "portal_url": "https://portal.example/login", "deliver_sms": "on",
            "languages": "en,xx", "sms_countries": "FR", "sms_per_number_per_day": 3,
            "sms_method": site.sms_method.pk, "sponsor_request_hours": 24}
    refused = client.post(url, data)
    assert refused.status_code == 200 and b"the portal does not speak this language" in refused.content
    assert b"found xx" in refused.content
    wrong_place = client.post(url, {**data, "languages": "en", "sms_method": elsewhere.pk})
    assert b"the SMS method must be an access method of this location" in wrong_place.content
    unknown_country = client.post(url, {**data, "languages": "en", "sms_countries": "FR,XX"})
    assert b"unknown country code" in unknown_country.content
    site.location.refresh_from_db()
    assert (site.location.languages, site.location.sms_method) == ("en,fr", site.sms_method)
    saved = client.post(url, {**data, "languages": "fr,en", "sms_countries": "FR,BE"})
    assert saved.status_code == 302
    site.location.refresh_from_db()
    assert (site.location.languages, site.location.sms_countries) == ("fr,en", "FR,BE")


def test_a_post_template_gives_an_auto_posted_form(site, hotel):
    """pfSense/OPNsense-style controllers take the login as a form post: the portal renders a form
    with the template's fields, filled (and escaped) and posted by the browser."""
    services.update_location(hotel.actor, site.location, controller_login_url=(
        "POST http://{uamip}:8002/index.php?zone=guest&auth_user={username}&auth_pass={password}"
        "&redirurl={userurl}&accept=Login"))
    [ticket] = hotel.issue(method=hotel.special, username='a"b<c', password="p&q",
                           valid_from=dt.date.today(), valid_until=dt.date.today() + dt.timedelta(days=1))
    client = guest()
    client.get(site.url("portal-home"), {"uamip": "10.1.0.1", "uamport": "3990", "userurl": "http://example.org/"})
    page = client.post(site.url("portal-login"), {"username": 'a"b<c', "password": "p&q"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="http://10.1.0.1:8002/index.php"' in html and 'method="post"' in html
    assert '<input type="hidden" name="auth_user" value="a&quot;b&lt;c">' in html
    assert '<input type="hidden" name="auth_pass" value="p&amp;q">' in html
    assert '<input type="hidden" name="redirurl" value="http://example.org/">' in html
    assert '<input type="hidden" name="zone" value="guest">' in html
    assert ".submit()" in html
    found = portal.handoff(site.location, {"uamip": "10.1.0.1"}, "u", "p")
    assert found.is_post and found.form == {"zone": "guest", "auth_user": "u", "auth_pass": "p", "redirurl": "",
                                            "accept": "Login"}
