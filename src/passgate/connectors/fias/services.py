"""What the FIAS records mean for passgate, one function per record (sync, database work): GI issues a
hotel stay's ticket, GC changes it, GO ends it, a resync's in-house list checks out who left, PA books
or refuses a posting. Plus the links' configuration and the postings the portal asks for.
The link process (link.py) calls these; so do the admin and the tests."""

from __future__ import annotations

import datetime as dt
import logging
import string
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from passgate.errors import Conflict, InvalidInput, NotFound
from passgate.guest import services as guest
from passgate.guest import stays
from passgate.guest.models import AccessMethod, Format, GuestTicket, Location, TicketType
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor

from .codec import ENCODINGS, Record
from .models import PmsLink, PmsPosting, PostingStatus

log = logging.getLogger("passgate.fias")
TEMPLATE_FIELDS = {"room", "reservation", "last_name", "first_name"}
ACTOR_LABEL = "pms"


def actor_of(link: PmsLink) -> Actor:
    return Actor.system(link.organisation, ACTOR_LABEL)


# ---------------------------------------------------------------- configuration

def _check_template(value: str, field: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise InvalidInput(f"not a valid template ({exc})", field=field, expected="e.g. {room}", found=value) from None
    unknown = names - TEMPLATE_FIELDS
    if unknown or not names:
        raise InvalidInput("a credential template uses the stay's fields", field=field,
                           expected=", ".join("{" + n + "}" for n in sorted(TEMPLATE_FIELDS)),
                           found=value)
    return value


def validate_link(link: PmsLink) -> None:
    if link.access_method.organisation_id != link.organisation_id or \
            link.access_method.location_id != link.location_id:
        raise InvalidInput("the access method belongs to another location", field="access_method",
                           expected=f"a method of {link.location.code}", found=link.access_method.code)
    if link.access_method.format != Format.SPECIAL:
        raise InvalidInput("a hotel stay's validity comes from the PMS: its method must be Special",
                           field="access_method", expected="a Special method", found=link.access_method.format)
    if not 1 <= link.port <= 65535:
        raise InvalidInput("not a TCP port", field="port", expected="1–65535", found=link.port)
    if not link.host.strip():
        raise InvalidInput("the PMS host is missing", field="host", expected="a host name or IP", found="nothing")
    if link.encoding not in ENCODINGS:
        raise InvalidInput("unknown encoding", field="encoding", expected=" or ".join(ENCODINGS), found=link.encoding)
    if not 0 <= link.checkout_hour <= 23:
        raise InvalidInput("the check-out hour is an hour of the day", field="checkout_hour", expected="0–23",
                           found=link.checkout_hour)
    if not 5 <= link.keepalive_seconds <= 3600:
        raise InvalidInput("keep-alive out of range", field="keepalive_seconds", expected="5–3600 s",
                           found=link.keepalive_seconds)
    _check_template(link.username_template, "username_template")
    _check_template(link.password_template, "password_template")


def create_link(actor: Actor, location: Location, **fields) -> PmsLink:
    actor.require(Permission.MANAGE_INTERFACES)
    if location.organisation_id != actor.organisation.pk:
        raise NotFound("no such location in this organisation", field="location", found=location.pk)
    if PmsLink.objects.filter(location=location).exists():
        raise Conflict("this location already has a PMS link", field="location", found=location.code)
    link = PmsLink(organisation=actor.organisation, location=location, **fields)
    validate_link(link)
    link.save()
    return link


def update_link(actor: Actor, link: PmsLink, **fields) -> PmsLink:
    """Change a link's settings (the running `passgate pms` picks them up on its next restart)."""
    actor.require(Permission.MANAGE_INTERFACES)
    if link.organisation_id != actor.organisation.pk:
        raise NotFound("no such PMS link in this organisation", field="link", found=link.pk)
    fields.pop("organisation", None)
    if "location" in fields and fields["location"].pk != link.location_id:
        raise InvalidInput("a link stays with its location", field="location", expected=link.location.code,
                           found=fields["location"].code)
    fields.pop("location", None)
    for name, value in fields.items():
        setattr(link, name, value)
    validate_link(link)
    link.save()
    return link


# ---------------------------------------------------------------- link status

def mark_connected(link_id: int, connected: bool, error: str = "", now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    fields: dict = {"connected": connected, "last_error": error[:300]}
    if connected:
        fields["connected_at"] = now
    PmsLink.objects.filter(pk=link_id).update(**fields)


def mark_alive(link_id: int, now: dt.datetime | None = None) -> None:
    PmsLink.objects.filter(pk=link_id).update(last_alive_at=now or timezone.now())


# ---------------------------------------------------------------- guests

def _credentials(link: PmsLink, rec: Record) -> tuple[str, str]:
    values = {"room": rec.get("RN").strip(), "reservation": rec.get("G#").strip(),
              "last_name": rec.get("GN").strip(), "first_name": rec.get("GF").strip()}
    username = link.username_template.format(**values).strip()[:64]
    password = link.password_template.format(**values).strip()[:64] or values["reservation"]
    return username, password


def _stay_until(link: PmsLink, rec: Record, now: dt.datetime) -> dt.datetime:
    departure = rec.date("GD")
    if departure is None:  # no departure given: until the next check-out hour
        departure = timezone.localtime(now, timezone=_zone(link)).date() + dt.timedelta(days=1)
    end = stays.stay_end(link.location, departure, link.checkout_hour)
    # a departure already past (a late GI) still gives an hour of access, not an expired ticket
    return max(end, now + dt.timedelta(hours=1))


def _zone(link: PmsLink):
    import zoneinfo

    return zoneinfo.ZoneInfo(link.location.time_zone)


def stay_of(link: PmsLink, reservation: str) -> GuestTicket | None:
    """The live stay of this reservation at the link's location."""
    return (GuestTicket.objects.filter(location_id=link.location_id, type=TicketType.PMS,
                                       pms_reservation=reservation, status__in=stays.LIVE)
            .order_by("-pk").first())


def check_in(link: PmsLink, rec: Record, now: dt.datetime | None = None) -> tuple[GuestTicket, bool]:
    """GI: a ticket for the stay (the same G# twice → the same ticket). Returns (ticket, created)."""
    now = now or timezone.now()
    reservation = rec.get("G#").strip()
    room = rec.get("RN").strip()
    if not reservation or not room:
        raise InvalidInput("GI record: a check-in needs a room and a reservation", field="G#" if room else "RN",
                           expected="a value", found="nothing")
    existing = stay_of(link, reservation)
    if existing is not None:  # a GI replayed, or resent in a resync: the stay may have changed
        change(link, rec, now)
        return existing, False
    username, password = _credentials(link, rec)
    actor = actor_of(link)
    reference = f"pms:{link.location.code}:{reservation}"
    with transaction.atomic():
        username = stays.free_username(link.organisation, username)
        for attempt in range(1, 100):
            # a reservation checked in again after its check-out (a reinstated stay) is a new stay:
            # the first key now names a finished ticket, so the next key is tried
            req = guest.IssueRequest(method=link.access_method, type=TicketType.PMS, user_id=reservation,
                                     valid_from=now, valid_until=_stay_until(link, rec, now), username=username,
                                     password=password, room_number=room, pms_reservation=reservation,
                                     last_name=rec.get("GN").strip(),
                                     client_reference=reference if attempt == 1 else f"{reference}#{attempt}")
            issued = guest.issue_tickets(actor, req, now=now)
            if issued.created or issued.tickets[0].status in stays.LIVE:
                break
    return issued.tickets[0], issued.created


def change(link: PmsLink, rec: Record, now: dt.datetime | None = None) -> GuestTicket | None:
    """GC: the stay moves room (RO old room) or changes name or departure."""
    now = now or timezone.now()
    ticket = stay_of(link, rec.get("G#").strip())
    if ticket is None:
        log.warning("fias: GC for unknown reservation %s (room %s): checked in instead", rec.get("G#"), rec.get("RN"))
        return check_in(link, rec, now)[0] if rec.get("RN") else None
    username, password = _credentials(link, Record(rec.kind, tuple(
        [("RN", rec.get("RN") or ticket.room_number), ("G#", ticket.pms_reservation),
         ("GN", rec.get("GN") or ticket.last_name), ("GF", rec.get("GF"))])))
    return stays.change_stay(
        actor_of(link), ticket, room_number=rec.get("RN").strip() or None, last_name=rec.get("GN").strip() or None,
        expires_at=_stay_until(link, rec, now) if "GD" in rec and rec.get("GD") else None,
        username=username, password=password)


def check_out(link: PmsLink, rec: Record, now: dt.datetime | None = None) -> int:
    """GO: the stay's ticket expires now and its sessions are cut. Returns the Disconnects owed."""
    ticket = stay_of(link, rec.get("G#").strip())
    if ticket is None:
        log.info("fias: GO for a reservation with no live stay (%s): nothing to do", rec.get("G#"))
        return 0
    return len(stays.end_stay(actor_of(link), ticket, now))


def reconcile(link: PmsLink, in_house: set[str], now: dt.datetime | None = None) -> list[str]:
    """After a resync (DS … DE): live stays whose reservation the PMS no longer lists left while the
    link was down — they are checked out. Returns their reservations."""
    gone = []
    for ticket in stays.live_stays(link.location):
        if ticket.pms_reservation not in in_house:
            stays.end_stay(actor_of(link), ticket, now)
            gone.append(ticket.pms_reservation)
    PmsLink.objects.filter(pk=link.pk).update(last_resync_at=now or timezone.now())
    return gone


# ---------------------------------------------------------------- postings

@dataclass(frozen=True)
class Charge:
    """What the portal asks to charge to a room."""

    location: Location
    method: AccessMethod
    amount: Decimal
    currency: str
    room_number: str
    last_name: str
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    email: str = ""


def request_posting(charge: Charge, now: dt.datetime | None = None) -> PmsPosting:
    """A posting to the room bill of the guest staying in this room under this name, with the next
    P# of the link. It is sent by the link process, now or once the link is up."""
    now = now or timezone.now()
    link = PmsLink.objects.filter(location=charge.location, enabled=True, allow_postings=True).first()
    if link is None:
        raise Conflict("this location does not charge WiFi to rooms", field="provider", found="ROOM")
    stay = guest.hotel_ticket(charge.location, charge.room_number, charge.last_name)
    if stay is None:
        raise InvalidInput("no guest of this name in this room", field="last_name",
                           expected="the room number and last name of the booking",
                           found=f"room {charge.room_number.strip()}, {charge.last_name.strip()}")
    if charge.amount <= 0:
        raise InvalidInput("nothing to charge", field="amount", expected="a price above 0", found=charge.amount)
    with transaction.atomic():
        PmsLink.objects.select_for_update().filter(pk=link.pk).first()  # one P# at a time
        top = PmsPosting.objects.filter(link=link).aggregate(m=Max("sequence"))["m"] or 0
        return PmsPosting.objects.create(
            organisation=link.organisation, link=link, sequence=top + 1, room_number=stay.room_number,
            reservation=stay.pms_reservation, last_name=stay.last_name,
            amount_cents=int((charge.amount * 100).to_integral_value()), currency=charge.currency,
            method=charge.method, first_day=charge.first_day, last_day=charge.last_day, email=charge.email,
            created_at=now)


def postings_to_send(link_id: int, *, resend: bool) -> list[PmsPosting]:
    """PENDING postings; with `resend` (a link just came up) also those SENT and never answered —
    with the same P#, so the PMS books them once."""
    statuses = [PostingStatus.PENDING, PostingStatus.SENT] if resend else [PostingStatus.PENDING]
    return list(PmsPosting.objects.filter(link_id=link_id, status__in=statuses).order_by("sequence"))


def posting_record(posting: PmsPosting, now: dt.datetime) -> Record:
    local = timezone.localtime(now, timezone=_zone(posting.link))
    return Record.make("PS", P_=posting.sequence, RN=posting.room_number, G_=posting.reservation or None,
                       TA=posting.amount_cents, PT="C", CT=f"WiFi {posting.method.code}",
                       DA=local.strftime("%y%m%d"), TI=local.strftime("%H%M%S"))


def mark_sent(posting_id: int, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        posting = PmsPosting.objects.select_for_update().get(pk=posting_id)
        if posting.status in (PostingStatus.PENDING, PostingStatus.SENT):
            posting.status, posting.sent_at = PostingStatus.SENT, now
            posting.attempts += 1
            posting.save(update_fields=["status", "sent_at", "attempts"])


def posting_answer(link: PmsLink, rec: Record, now: dt.datetime | None = None) -> PmsPosting | None:
    """PA: OK books the posting and issues its ticket; anything else refuses it (reason kept). A late
    or repeated PA for a posting already answered does nothing: booked once."""
    now = now or timezone.now()
    try:
        sequence = int(rec.get("P#"))
    except ValueError:
        log.warning("fias: PA with a P# that is not a number: %s", rec)
        return None
    with transaction.atomic():
        posting = PmsPosting.objects.select_for_update().filter(link=link, sequence=sequence).first()
        if posting is None:
            log.warning("fias: PA for unknown posting P#%s", sequence)
            return None
        if posting.status in (PostingStatus.OK, PostingStatus.REFUSED):
            log.info("fias: PA for P#%s already answered (%s): ignored", sequence, posting.status)
            return posting
        answer = rec.get("AS").strip().upper()
        posting.answered_at = now
        posting.answer = " ".join(x for x in (answer, rec.get("CT").strip()) if x)[:200]
        if answer == "OK":
            posting.status = PostingStatus.OK
            posting.ticket = _issue_bought(link, posting, now)
        else:
            posting.status = PostingStatus.REFUSED
        posting.save(update_fields=["status", "answer", "answered_at", "ticket"])
    if posting.status == PostingStatus.OK and posting.email:
        transaction.on_commit(lambda: _deliver(posting))
    return posting


def _issue_bought(link: PmsLink, posting: PmsPosting, now: dt.datetime) -> GuestTicket:
    req = guest.IssueRequest(method=posting.method, type=TicketType.PMS, user_id=posting.reservation or
                             f"room {posting.room_number}", valid_from=posting.first_day,
                             valid_until=posting.last_day, client_reference=f"pms-posting:{link.pk}:{posting.sequence}")
    return guest.issue_tickets(actor_of(link), req, now=now).tickets[0]


def _deliver(posting: PmsPosting) -> None:
    from passgate.guest.delivery import send_email

    try:
        send_email(posting.ticket, posting.email)
    except Exception:  # the ticket is on the guest's screen already; the e-mail is a courtesy
        log.exception("fias: e-mail of posting P#%s failed", posting.sequence)


def posting_of(organisation_id: int, posting_id: int) -> PmsPosting | None:
    return PmsPosting.objects.select_related("ticket").filter(organisation_id=organisation_id, pk=posting_id).first()

