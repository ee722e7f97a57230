"""The captive portal's rules: which location a URL names, which language a guest reads, what a
controller told us on arrival, whose credentials are right, and where the guest goes after login.
Views only translate HTTP to these."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import string
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from passgate.orgs.models import Organisation

from ..models import AccessMethod, GuestStatus, GuestTicket, Location

SESSION_UAM = "portal_uam"
SESSION_LANGUAGE = "portal_language"
# What controllers put in the portal URL. CoovaChilli / ChilliSpot (and pfSense/OPNsense kin):
COOVA_PARAMS = ("uamip", "uamport", "challenge", "userurl", "mac", "ip", "called", "nasid", "res", "sessionid")
# UniFi external portal: client MAC, AP MAC, time, the URL the guest wanted, SSID.
UNIFI_PARAMS = ("id", "ap", "t", "url", "ssid")
# Placeholders a location's controller_login_url may use (each filled URL-encoded).
TEMPLATE_FIELDS = ("username", "password", "response", *COOVA_PARAMS, *UNIFI_PARAMS)

LOGIN_LIMIT_COUNT, LOGIN_LIMIT_WINDOW = 10, dt.timedelta(minutes=15)
HOTEL_LIMIT_COUNT, HOTEL_LIMIT_WINDOW = 5, dt.timedelta(minutes=15)


def portal_location(organisation_code: str, location_code: str) -> Location:
    location = (Location.objects.select_related("organisation", "sms_method")
                .filter(organisation__code=organisation_code, code=location_code).first())
    if location is None:
        raise Http404("no such portal")
    return location


# ---------------------------------------------------------------- languages

def portal_languages() -> dict[str, str]:
    return dict(settings.LANGUAGES)


def pick_language(location: Location, *, chosen: str = "", accept_language: str = "") -> str:
    """The guest's own choice if the location offers it, else the first of Accept-Language the
    location offers (by q-value), else the location's first language."""
    offered = [code for code in location.language_list() if code in portal_languages()] or [settings.LANGUAGE_CODE]
    if chosen in offered:
        return chosen
    for code in _accepted(accept_language):
        base = code.split("-")[0]
        if code in offered:
            return code
        if base in offered:
            return base
    return offered[0]


def _accepted(header: str) -> list[str]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        bits = part.strip().split(";")
        code = bits[0].strip().lower()
        if not code or code == "*":
            continue
        q = 1.0
        for bit in bits[1:]:
            name, _, value = bit.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, position, code))
    return [code for _, _, code in sorted(ranked)]


# ---------------------------------------------------------------- the controller

def controller_params(query) -> dict[str, str]:
    """The controller's parameters in a portal URL's query, or {} when it sent none."""
    if "uamip" in query or "uamport" in query:
        names = COOVA_PARAMS
    elif "id" in query and ("ap" in query or "url" in query):
        names = UNIFI_PARAMS
    else:
        return {}
    return {name: str(query.get(name, ""))[:500] for name in names if query.get(name)}


def chap_response(password: str, challenge_hex: str, uamsecret: str = "") -> str:
    """CoovaChilli's CHAP answer: md5(0x00 + password + challenge), the challenge first hashed with
    the uamsecret when the controller has one (md5(challenge + uamsecret))."""
    challenge = bytes.fromhex(challenge_hex)
    if uamsecret:
        challenge = hashlib.md5(challenge + uamsecret.encode()).digest()
    return hashlib.md5(b"\x00" + password.encode() + challenge).hexdigest()


def template_problem(template: str) -> str | None:
    """What is wrong with a controller_login_url template (None if it can be used)."""
    if not template:
        return None
    _, url = split_template(template)
    if not url.startswith(("http://", "https://")):
        return "it does not start with http:// or https:// (or POST http…)"
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]
    except ValueError as exc:
        return f"its braces do not match ({exc})"
    unknown = sorted(set(names) - set(TEMPLATE_FIELDS))
    if unknown:
        return f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}"
    return None


def split_template(template: str) -> tuple[str, str]:
    """("GET"|"POST", url template): a template starting with "POST " is sent as a form."""
    head, _, rest = template.strip().partition(" ")
    return ("POST", rest.strip()) if head.upper() == "POST" and rest else ("GET", template.strip())


@dataclass(frozen=True)
class Handoff:
    """Where the guest's browser goes to be logged in by the controller: a URL to follow, or (for
    controllers that only take the login as a POST: pfSense, OPNsense…) a form to post."""

    url: str
    method: str = "GET"
    form: dict[str, str] = field(default_factory=dict)

    @property
    def is_post(self) -> bool:
        return self.method == "POST"


def handoff(location: Location, uam: dict[str, str], username: str, password: str) -> Handoff | None:
    """The hand-off to the controller, or None when the portal was not reached through a
    controller (the credentials are then just shown)."""
    if not uam:
        return None
    if location.controller_login_url:
        values = {name: "" for name in TEMPLATE_FIELDS}
        values.update(uam)
        values.update(username=username, password=password, response="")
        if uam.get("challenge"):
            try:
                values["response"] = chap_response(password, uam["challenge"])
            except ValueError:
                pass  # a challenge that is not hex: only a PAP template can be used
        quoted = {k: quote(str(v), safe="") for k, v in values.items()}
        method, template = split_template(location.controller_login_url)
        if method == "POST":
            # the template's query names the form's fields, filled with the raw values (the
            # browser encodes them when it posts)
            parts = urlsplit(template)
            form = {key: value.format(**values) for key, value in parse_qsl(parts.query, keep_blank_values=True)}
            action = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).format(**quoted)
            return Handoff(url=action, method="POST", form=form)
        return Handoff(url=template.format(**quoted))
    if uam.get("uamip") and uam.get("uamport"):
        # CoovaChilli's own logon URL (plain PAP password: chilli encodes it with the challenge itself)
        query = {"username": username, "password": password}
        if uam.get("userurl"):
            query["userurl"] = uam["userurl"]
        return Handoff(url=f"http://{uam['uamip']}:{uam['uamport']}/logon?{urlencode(query)}")
    return None


def handoff_url(location: Location, uam: dict[str, str], username: str, password: str) -> str | None:
    found = handoff(location, uam, username, password)
    return found.url if found else None


def continue_url(uam: dict[str, str]) -> str:
    """The page the guest first asked for (shown as a link once they are online)."""
    target = uam.get("userurl") or uam.get("url") or ""
    return target if target.startswith(("http://", "https://")) else ""


# ---------------------------------------------------------------- credentials

def check_credentials(location: Location, username: str, password: str,
                      now: dt.datetime | None = None) -> GuestTicket | None:
    """The live ticket of this location with these credentials, or None. FreeRADIUS decides the
    rest (devices, quota) when the controller logs the guest in; here a wrong password or a dead
    ticket just gets the page's error."""
    now = now or timezone.now()
    ticket = (GuestTicket.objects.filter(location=location, username=username.strip(),
                                         status__in=[GuestStatus.NO_USE, GuestStatus.IN_USE])
              .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).first())
    if ticket is None or not hmac.compare_digest(ticket.password.encode(), password.strip().encode()):
        return None
    return ticket


# ---------------------------------------------------------------- buying

def priced_methods(location: Location) -> list[AccessMethod]:
    return list(AccessMethod.objects.filter(location=location, active=True, price__gt=0,
                                            format__in=["SINGLE", "VARIABLE"]).order_by("price", "name"))


def has_hotel_stays(location: Location) -> bool:
    return GuestTicket.objects.filter(location=location, type="PMS").exists()


def organisation_of(location: Location) -> Organisation:
    return location.organisation


def build_purchase(location: Location, *, method_code: str, first_day: str = "", last_day: str = "",
                   email: str = "", today: dt.date | None = None):
    """The Purchase a buy form describes (amount = price, or price × days for Variable), or
    InvalidInput naming the field."""
    from django.utils.translation import gettext as _

    from passgate.errors import InvalidInput

    from ..channels import Purchase

    method = next((m for m in priced_methods(location) if m.code == method_code), None)
    if method is None:
        raise InvalidInput(_("choose one of the offers"), field="method", expected="an offer of this location",
                           found=method_code or "nothing")
    email = (email or "").strip()
    if email and ("@" not in email or " " in email or len(email) > 254):
        raise InvalidInput(_("not an e-mail address"), field="email", expected="name@example.org", found=email)
    if method.format != "VARIABLE":
        return Purchase(location=location, method=method, amount=method.price, currency=method.currency,
                        email=email)
    days: list[dt.date] = []
    for name, raw in (("first_day", first_day), ("last_day", last_day)):
        try:
            days.append(dt.date.fromisoformat((raw or "").strip()))
        except ValueError:
            raise InvalidInput(_("choose a date"), field=name, expected="YYYY-MM-DD", found=raw or "nothing") from None
    first, last = days
    today = today or timezone.localdate(timezone=__import__("zoneinfo").ZoneInfo(location.time_zone))
    if first < today:
        raise InvalidInput(_("the first day has already passed"), field="first_day", expected=f"{today} or later",
                           found=str(first))
    count = (last - first).days + 1
    if not method.min_days <= count <= method.max_days:
        raise InvalidInput(_("choose between %(min)s and %(max)s days") % {"min": method.min_days,
                                                                          "max": method.max_days},
                           field="last_day", expected=f"{method.min_days}–{method.max_days} days",
                           found=f"{count} day(s)")
    return Purchase(location=location, method=method, amount=method.price * count, currency=method.currency,
                    first_day=first, last_day=last, email=email)
