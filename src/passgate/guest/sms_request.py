"""The SMS request channel (ticket type SMS): a guest types a mobile number on the portal and gets
a ticket of the location's SMS method by SMS. The user id is the number in E.164.

Abuse is refused before anything is issued: numbers that are not mobiles (premium-rate and
shared-cost numbers cost whoever texts them; landlines cannot read an SMS), countries outside the
location's list, and too many requests per number or per client address."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from passgate.errors import Conflict, InvalidInput
from passgate.orgs.services import Actor

from . import delivery, services
from .models import GuestTicket, IssueBatch, Location, TicketType
from .portal import ratelimit

NUMBER_SOON = ratelimit.Limit("sms-number", 1, dt.timedelta(minutes=10))
PER_ADDRESS = ratelimit.Limit("sms-address", 5, dt.timedelta(hours=1))
MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
REFUSED_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: _("premium-rate numbers cannot receive a code"),
    phonenumbers.PhoneNumberType.SHARED_COST: _("shared-cost numbers cannot receive a code"),
    phonenumbers.PhoneNumberType.TOLL_FREE: _("toll-free numbers cannot receive a code"),
}


def allowed_countries(location: Location) -> list[str]:
    """The location's list; blank means the country passgate reads national numbers in (the safe
    default: an SMS abroad costs more, and a portal rarely serves foreign numbers by design)."""
    return location.sms_country_list() or [settings.GUEST_SMS_REGION.upper()]


def per_number_limits(location: Location) -> list[ratelimit.Limit]:
    return [NUMBER_SOON, ratelimit.Limit("sms-number-day", location.sms_per_number_per_day, dt.timedelta(days=1))]


def mobile_number(location: Location, raw: str) -> str:
    """The E.164 form of a mobile the location may text, or InvalidInput(field="phone") saying why not."""
    countries = allowed_countries(location)
    try:
        number = phonenumbers.parse((raw or "").strip(), countries[0])
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(_("not a valid mobile number"), field="phone",
                           expected="a mobile number such as +33 6 12 34 56 78", found=raw)
    kind = phonenumbers.number_type(number)
    if kind in REFUSED_TYPES:
        raise InvalidInput(REFUSED_TYPES[kind], field="phone", expected="a mobile number", found=raw)
    if kind not in MOBILE_TYPES:
        raise InvalidInput(_("this is not a mobile number"), field="phone", expected="a mobile number", found=raw)
    country = phonenumbers.region_code_for_number(number)
    if country not in countries:
        raise InvalidInput(_("codes are not sent to this country here"), field="phone",
                           expected=f"a mobile of {', '.join(countries)}", found=f"{raw} ({country})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass
class SmsRequested:
    ticket: GuestTicket
    number: str
    sent: bool  # False when this was a repeated submission of a request already served


def request_code(location: Location, raw_number: str, *, client_address: str, nonce: str,
                 now: dt.datetime | None = None) -> SmsRequested:
    """Issue a ticket of the location's SMS method to this mobile and text it. `nonce` comes from
    the form the guest submitted: the same form sent twice (a double tap, a retried POST) returns
    the first ticket without a second SMS or a second count against the limits."""
    method = location.sms_method
    if method is None or not location.deliver_sms or not method.active:
        raise Conflict(_("codes by SMS are not offered at this location"), field="phone")
    number = mobile_number(location, raw_number)
    org = location.organisation
    reference = f"portal-sms:{location.pk}:{number}:{nonce[:40]}"
    if nonce and IssueBatch.objects.filter(organisation=org, client_reference=reference).exists():
        ticket = GuestTicket.objects.filter(batch__organisation=org, batch__client_reference=reference).first()
        return SmsRequested(ticket=ticket, number=number, sent=False)
    now = now or timezone.now()
    ratelimit.check(org, PER_ADDRESS, client_address, now)
    ratelimit.check(org, per_number_limits(location), number, now)
    actor = Actor.system(org, "portal")
    # One transaction: a gateway that fails leaves no ticket and no count behind.
    with transaction.atomic():
        issued = services.issue_tickets(actor, services.IssueRequest(
            method=method, type=TicketType.SMS, user_id=number, client_reference=reference if nonce else None,
            **_variable_days(method, location, now)), now=now)
        ticket = issued.tickets[0]
        if not issued.created:
            return SmsRequested(ticket=ticket, number=number, sent=False)
        ratelimit.record(org, PER_ADDRESS.scope, client_address, now)
        for limit in per_number_limits(location):
            ratelimit.record(org, limit.scope, number, now)
        delivery.send_sms(ticket, number)
    return SmsRequested(ticket=ticket, number=number, sent=True)


def _variable_days(method, location: Location, now: dt.datetime) -> dict:
    """A Variable SMS method gives its shortest stay, starting today (in the location's zone)."""
    if method.format != "VARIABLE":
        return {}
    today = now.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
    return {"valid_from": today, "valid_until": today + dt.timedelta(days=method.min_days - 1)}
