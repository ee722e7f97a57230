"""Sponsored access (ticket type SPONSOR): a guest names a sponsor from the location's allowed
list; the sponsor gets an e-mail with approve and deny links (signed, expiring, single-use);
approval issues the ticket and e-mails it to the guest, whose waiting page then logs them in.
Optionally the guest gets a short grace ticket at once, cut if the sponsor declines.

The request's status is the single-use guard of the links: it leaves PENDING once, decided
under select_for_update. Tickets are issued through guest.services.issue_tickets with a client
reference per request, so a retried approval can never issue twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from passgate.errors import InvalidInput, NotFound
from passgate.orgs.services import Actor

from . import channels, delivery, services
from .models import Format, GuestStatus, GuestTicket, Location, SponsorRequest, SponsorStatus, TicketType

logger = logging.getLogger("passgate.guest.sponsor")

DECIDE_SALT = "passgate.guest.sponsor.decide"
WAIT_SALT = "passgate.guest.sponsor.wait"
# Upper bound of a sponsor's answering time; the request's own expires_at is the real limit.
MAX_REQUEST_HOURS = 30 * 24
WAIT_LINK_MAX_AGE = MAX_REQUEST_HOURS * 3600 + 24 * 3600
ACTIONS = ("approve", "deny")
# The abuse limiter (minimal, counts the requests themselves; the portal's limiter may replace it).
LIMIT_WINDOW = dt.timedelta(hours=1)
LIMIT_PER_GUEST = 3
LIMIT_PER_ADDRESS = 10
_SEPARATORS = re.compile(r"[\s,;]+")


class RateLimited(InvalidInput):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, minutes: int, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.minutes = minutes


# ---------------------------------------------------------------- the location's settings

def allowed_sponsors(text: str) -> list[str]:
    """The entries of a location's list: lower-cased addresses and @domains."""
    return [entry.lower() for entry in _SEPARATORS.split(text or "") if entry]


def validate_sponsoring(location: Location) -> None:
    """The sponsor list's entries are addresses or @domains; the method belongs to the location,
    is active and is Single or Variable (a Special method has no validity a sponsor could pick)."""
    for entry in allowed_sponsors(location.sponsors_allowed):
        address = "x" + entry if entry.startswith("@") else entry
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput("not an e-mail address or a domain", field="sponsors_allowed",
                               expected="name@example.com or @example.com", found=entry) from None
    method = location.sponsor_method
    if method is not None:
        if location.pk is not None and method.location_id != location.pk:
            raise InvalidInput("the sponsor method belongs to another location", field="sponsor_method",
                               expected=f"a method of {location.code}", found=method.code)
        if method.format not in (Format.SINGLE, Format.VARIABLE):
            raise InvalidInput("a sponsor grants a Single or Variable method", field="sponsor_method",
                               expected="a method of format SINGLE or VARIABLE", found=f"{method.code} ({method.format})")
        required = [f["name"] for f in method.extra_fields if f.get("required")]
        if required:  # the guest's form does not ask for them
            raise InvalidInput("the sponsor method asks for required extra fields", field="sponsor_method",
                               expected="a method without required extra fields", found=", ".join(required))
    if not 1 <= location.sponsor_request_hours <= MAX_REQUEST_HOURS:
        raise InvalidInput("a sponsor's answering time is out of bounds", field="sponsor_request_hours",
                           expected=f"1–{MAX_REQUEST_HOURS} hours", found=location.sponsor_request_hours)


def offers_sponsoring(location: Location) -> bool:
    return bool(location.sponsor_method_id and allowed_sponsors(location.sponsors_allowed)
                and location.sponsor_method.active)


def sponsor_allowed(location: Location, email: str) -> bool:
    email = email.strip().lower()
    domain = "@" + email.rpartition("@")[2]
    entries = allowed_sponsors(location.sponsors_allowed)
    return email in entries or domain in entries


def clean_email(value: str, field: str) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidInput(_("not an e-mail address"), field=field, expected="name@example.com",
                           found=value or "nothing") from None
    return value


# ---------------------------------------------------------------- the guest asks

@dataclass(frozen=True)
class Ask:
    guest_email: str
    guest_name: str
    sponsor_email: str
    client_address: str | None = None


def check_rate(location: Location, guest_email: str, client_address: str | None, now: dt.datetime) -> None:
    """At most LIMIT_PER_GUEST requests per guest e-mail and LIMIT_PER_ADDRESS per client address
    in LIMIT_WINDOW, counted from the requests themselves."""
    since = now - LIMIT_WINDOW
    recent = SponsorRequest.objects.filter(organisation_id=location.organisation_id, created_at__gt=since)
    checks = [(recent.filter(guest_email__iexact=guest_email), LIMIT_PER_GUEST, "guest_email", guest_email)]
    if client_address:
        checks.append((recent.filter(client_address=client_address), LIMIT_PER_ADDRESS, "client_address",
                       client_address))
    for qs, limit, field, found in checks:
        times = list(qs.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            minutes = max(1, math.ceil((times[-1] + LIMIT_WINDOW - now).total_seconds() / 60))
            raise RateLimited(_("Too many requests. Try again in %(n)d minutes.") % {"n": minutes},
                              minutes=minutes, field=field, expected=f"at most {limit} requests an hour",
                              found=found)


def request_access(location: Location, ask: Ask, *, now: dt.datetime | None = None) -> SponsorRequest:
    """Record the request, issue the grace ticket if the method has one, and e-mail the sponsor —
    all or nothing: if the sponsor's e-mail cannot be sent, nothing is kept."""
    now = now or timezone.now()
    if not offers_sponsoring(location):
        raise NotFound(_("this location offers no sponsored access"), field="location", found=location.code)
    guest_email = clean_email(ask.guest_email, "guest_email")
    name = " ".join((ask.guest_name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput(_("please give your name"), field="guest_name", expected="1–200 characters",
                           found=name or "nothing")
    sponsor_email = clean_email(ask.sponsor_email, "sponsor_email")
    if not sponsor_allowed(location, sponsor_email):
        raise InvalidInput(_("this person cannot sponsor guests here"), field="sponsor_email",
                           expected="an address or domain on the location's list of sponsors", found=sponsor_email)
    check_rate(location, guest_email, ask.client_address, now)
    method = location.sponsor_method
    actor = Actor.system(location.organisation, "sponsor")
    with transaction.atomic():
        req = SponsorRequest.objects.create(
            organisation_id=location.organisation_id, location=location, method=method, guest_email=guest_email,
            guest_name=name, sponsor_email=sponsor_email, client_address=ask.client_address, created_at=now,
            expires_at=now + dt.timedelta(hours=location.sponsor_request_hours))
        if method.grace_minutes:
            req.grace_ticket = _grace_ticket(actor, req, now)
            req.save(update_fields=["grace_ticket"])
        _mail_sponsor(req)
    return req


def _issue_request(req: SponsorRequest, reference: str, now: dt.datetime) -> services.IssueRequest:
    method = req.method
    first = last = None
    if method.format == Format.VARIABLE:  # the shortest stay the method allows, from today
        first = now.astimezone(zoneinfo.ZoneInfo(req.location.time_zone)).date()
        last = first + dt.timedelta(days=method.min_days - 1)
    return services.IssueRequest(method=method, type=TicketType.SPONSOR, user_id=req.guest_email,
                                 valid_from=first, valid_until=last, client_reference=reference)


def _grace_ticket(actor: Actor, req: SponsorRequest, now: dt.datetime) -> GuestTicket:
    """A ticket of the sponsor method (same devices, bandwidth, quota) that ends grace_minutes
    from now, counted from issue whatever the method counts from."""
    issued = services.issue_tickets(actor, _issue_request(req, f"sponsor-grace:{req.pk}", now), now=now)
    ticket = issued.tickets[0]
    grace = dt.timedelta(minutes=req.method.grace_minutes)
    GuestTicket.objects.filter(pk=ticket.pk).update(expires_at=now + grace, duration=grace, price=0)
    ticket.refresh_from_db()
    return ticket


# ---------------------------------------------------------------- links

def decision_token(req: SponsorRequest, action: str) -> str:
    return signing.dumps({"r": req.pk, "a": action}, salt=DECIDE_SALT, compress=True)


def decision_url(req: SponsorRequest, action: str) -> str:
    """Absolute: the sponsor opens it from their mailbox, not from the guest network."""
    return settings.BASE_URL + reverse("sponsor-decide", kwargs={
        "organisation": req.location.organisation.code, "location": req.location.code,
        "token": decision_token(req, action)})


def wait_token(req: SponsorRequest) -> str:
    return signing.dumps({"r": req.pk}, salt=WAIT_SALT, compress=True)


def wait_url(req: SponsorRequest) -> str:
    return reverse("portal-sponsor-wait", kwargs={"organisation": req.location.organisation.code,
                                                  "location": req.location.code, "token": wait_token(req)})


def request_from_wait_token(token: str, location: Location) -> SponsorRequest | None:
    try:
        data = signing.loads(token, salt=WAIT_SALT, max_age=WAIT_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    return (SponsorRequest.objects.select_related("ticket", "grace_ticket", "location__organisation")
            .filter(pk=data.get("r"), location=location).first())


# ---------------------------------------------------------------- the sponsor decides

@dataclass(frozen=True)
class Decision:
    """outcome: APPROVED / DENIED (this click decided), ALREADY (decided before: see
    request.status), EXPIRED (too late), INVALID (a forged or mangled link)."""

    outcome: str
    action: str = ""
    request: SponsorRequest | None = None


def read_decision(token: str, location: Location) -> tuple[SponsorRequest | None, str]:
    try:
        data = signing.loads(token, salt=DECIDE_SALT, max_age=MAX_REQUEST_HOURS * 3600)
    except signing.SignatureExpired:
        return None, "expired"
    except signing.BadSignature:
        return None, ""
    action = data.get("a") if isinstance(data, dict) else None
    if action not in ACTIONS:
        return None, ""
    req = SponsorRequest.objects.select_related("location__organisation").filter(
        pk=data.get("r"), location=location).first()
    return req, action


def decide(token: str, location: Location, *, now: dt.datetime | None = None) -> Decision:
    now = now or timezone.now()
    found, action = read_decision(token, location)
    if found is None:
        return Decision("EXPIRED" if action == "expired" else "INVALID")
    actor = Actor.system(location.organisation, "sponsor")
    with transaction.atomic():
        req = (SponsorRequest.objects.select_for_update().select_related("method", "location__organisation")
               .get(pk=found.pk))
        if req.status != SponsorStatus.PENDING:
            return Decision("ALREADY", action, req)
        if now >= req.expires_at:
            req.status, req.decided_at = SponsorStatus.EXPIRED, now
            req.save(update_fields=["status", "decided_at"])
            _end_grace(actor, req, now, cut=True)
            return Decision("EXPIRED", action, req)
        if action == "approve":
            req.ticket = services.issue_tickets(actor, _issue_request(req, f"sponsor:{req.pk}", now),
                                                now=now).tickets[0]
            req.status = SponsorStatus.APPROVED
        else:
            req.status = SponsorStatus.DENIED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at", "ticket"])
        # Approved: an unused grace ticket is withdrawn, one in use runs its few minutes out —
        # cutting it would disconnect the guest just as the landing page logs them in anew.
        _end_grace(actor, req, now, cut=action == "deny")
    if req.status == SponsorStatus.APPROVED:
        try:
            delivery.send_email(req.ticket, req.guest_email)
        except Exception:  # the guest's waiting page still logs them in; the sponsor's answer stands
            logger.exception("sponsor request %s: the ticket could not be e-mailed to the guest", req.pk)
    return Decision(req.status, action, req)


def _end_grace(actor: Actor, req: SponsorRequest, now: dt.datetime, *, cut: bool) -> None:
    if req.grace_ticket_id is None:
        return
    grace = GuestTicket.objects.get(pk=req.grace_ticket_id)
    if grace.status == GuestStatus.NO_USE or (cut and grace.status == GuestStatus.IN_USE):
        services.cancel_ticket(actor, grace, now=now)  # its open sessions get a Disconnect-Request


# ---------------------------------------------------------------- the guest waits

def status(req: SponsorRequest, now: dt.datetime | None = None) -> dict:
    """What the waiting page shows (and its JSON endpoint returns). A request nobody answered
    in time becomes EXPIRED here, when the guest next looks."""
    now = now or timezone.now()
    if req.status == SponsorStatus.PENDING and now >= req.expires_at:
        with transaction.atomic():
            locked = SponsorRequest.objects.select_for_update().get(pk=req.pk)
            if locked.status == SponsorStatus.PENDING:
                locked.status, locked.decided_at = SponsorStatus.EXPIRED, now
                locked.save(update_fields=["status", "decided_at"])
                _end_grace(Actor.system(req.location.organisation, "sponsor"), locked, now, cut=True)
        req.refresh_from_db()
    messages = {SponsorStatus.PENDING: _("Waiting for your sponsor to answer."),
                SponsorStatus.APPROVED: _("Your sponsor approved. Logging you in…"),
                SponsorStatus.DENIED: _("Your sponsor declined the request."),
                SponsorStatus.EXPIRED: _("Your sponsor did not answer in time. You may ask again.")}
    out = {"status": req.status, "message": messages[req.status], "landing_url": None, "grace_url": None}
    if req.status == SponsorStatus.APPROVED and req.ticket_id:
        out["landing_url"] = channels.landing_url(req.ticket)
    grace = req.grace_ticket
    if req.status == SponsorStatus.PENDING and grace is not None and grace.status in (GuestStatus.NO_USE,
                                                                                     GuestStatus.IN_USE):
        out["grace_url"] = channels.landing_url(grace)
    return out


# ---------------------------------------------------------------- the sponsor's e-mail

def _mail_sponsor(req: SponsorRequest) -> None:
    location = req.location
    approve, deny = decision_url(req, "approve"), decision_url(req, "deny")
    until = req.expires_at.astimezone(zoneinfo.ZoneInfo(location.time_zone)).strftime("%d/%m/%Y %H:%M")
    subject = _("%(guest)s asks for WiFi access at %(place)s") % {"guest": req.guest_name, "place": location.name}
    intro = _("%(guest)s (%(email)s) asks you to sponsor their WiFi access at %(place)s.") % {
        "guest": req.guest_name, "email": req.guest_email, "place": location.name}
    expiry = _("These links work once, until %(until)s.") % {"until": until}
    text = f"{intro}\n\n{_('Approve')}: {approve}\n{_('Deny')}: {deny}\n\n{expiry}\n"
    html = (f"<p>{escape(intro)}</p><p><a href=\"{escape(approve)}\">{escape(_('Approve'))}</a> · "
            f"<a href=\"{escape(deny)}\">{escape(_('Deny'))}</a></p><p>{escape(expiry)}</p>")
    message = EmailMultiAlternatives(subject=subject, body=text, to=[req.sponsor_email])
    message.attach_alternative(html, "text/html")
    message.send()
