"""Hotel stays (tickets of type PMS): the time rule of a stay, and the changes a hotel's PMS makes
to a stay's ticket — a room move or new departure (GC), a check-out (GO). The PMS connector calls
these; issuing itself is services.issue_tickets with a Special method.

Usernames are unique per organisation while a room's number is reused stay after stay: a stay that
ends gives its username back (renamed `<username>~<reservation>`), and when two live stays want the
same one (two reservations in one room) the second gets `<username>-2`, then `-3`, …
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.utils import timezone

from passgate.errors import Conflict, InvalidInput
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, record_audit, snapshot

from . import rules
from .models import CutReason, Disconnect, GuestStatus, GuestTicket, Location, RadiusSession, TicketType
from .services import cut_sessions

LIVE = (GuestStatus.NO_USE, GuestStatus.IN_USE)


def stay_end(location: Location, departure: dt.date, checkout_hour: int) -> dt.datetime:
    """A stay ends on its departure day at the hotel's check-out hour, in the location's time zone."""
    if not 0 <= checkout_hour <= 23:
        raise InvalidInput("the check-out hour is an hour of the day", field="checkout_hour", expected="0–23",
                           found=checkout_hour)
    return dt.datetime.combine(departure, dt.time(checkout_hour), tzinfo=zoneinfo.ZoneInfo(location.time_zone))


def _retire_username(ticket: GuestTicket) -> str:
    """A finished stay's username, renamed out of the way of the room's next guest."""
    base = f"{ticket.username}~{ticket.pms_reservation or ticket.serial}"[:64]
    if GuestTicket.objects.filter(organisation_id=ticket.organisation_id, username=base).exclude(
            pk=ticket.pk).exists():
        base = f"{ticket.username}~{ticket.serial}"[:64]
    return base


def free_username(organisation: Organisation, wanted: str, *, keep: GuestTicket | None = None) -> str:
    """`wanted`, or `wanted-2`, `-3`, … when a live ticket holds it. A finished ticket that still holds
    it (ended before this module renamed on check-out) is renamed out of the way. `keep`: a ticket
    whose own username does not count as taken (a stay changing rooms)."""
    candidate, n = wanted, 1
    while True:
        holder = GuestTicket.objects.filter(organisation=organisation, username=candidate).first()
        if holder is None or (keep is not None and holder.pk == keep.pk):
            return candidate
        if holder.status not in LIVE:
            holder.username = _retire_username(holder)
            holder.save(update_fields=["username"])
            return candidate
        n += 1
        candidate = f"{wanted[:60]}-{n}"


def end_stay(actor: Actor, ticket: GuestTicket, now: dt.datetime | None = None) -> list[Disconnect]:
    """Check-out: the stay's ticket expires now, gives its username back, and each open session gets a
    Disconnect-Request. A stay already over changes nothing (a GO replayed, or after a resync)."""
    actor.require(Permission.SELL)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = GuestTicket.objects.select_for_update().get(pk=ticket.pk, organisation=actor.organisation)
        new = rules.next_status(ticket.status, "EXPIRE")
        if new is None:
            return []
        before = snapshot(ticket)
        ticket.status = new
        ticket.expires_at = min(ticket.expires_at, now) if ticket.expires_at else now
        ticket.username = _retire_username(ticket)
        ticket.save(update_fields=["status", "expires_at", "username"])
        cuts = cut_sessions(RadiusSession.objects.filter(ticket=ticket, stopped_at__isnull=True),
                            CutReason.EXPIRED, now)
        record_audit(actor, "check-out", ticket, before, snapshot(ticket))
    return cuts


def change_stay(actor: Actor, ticket: GuestTicket, *, room_number: str | None = None, last_name: str | None = None,
                expires_at: dt.datetime | None = None, username: str | None = None,
                password: str | None = None) -> GuestTicket:
    """A room move or a changed stay (GC): the given fields change, the rest stays. A new username is
    made free first (see free_username). Open sessions go on: the NAS knows them by session id."""
    actor.require(Permission.SELL)
    with transaction.atomic():
        ticket = GuestTicket.objects.select_for_update().get(pk=ticket.pk, organisation=actor.organisation)
        if ticket.type != TicketType.PMS or ticket.status not in LIVE:
            raise Conflict("only a live hotel stay can change", field="status", expected="a live PMS ticket",
                           found=f"{ticket.type} {ticket.status}")
        before = snapshot(ticket)
        changed = []
        for name, value in (("room_number", room_number), ("last_name", last_name), ("expires_at", expires_at),
                            ("password", password)):
            if value is not None and value != getattr(ticket, name):
                setattr(ticket, name, value)
                changed.append(name)
        if username is not None and username != ticket.username:
            ticket.username = free_username(actor.organisation, username, keep=ticket)
            changed.append("username")
        if changed:
            ticket.save(update_fields=changed)
            record_audit(actor, "change stay", ticket, before, snapshot(ticket))
    return ticket


def live_stays(location: Location) -> list[GuestTicket]:
    """The stays passgate holds as in-house at a location."""
    return list(GuestTicket.objects.filter(location=location, type=TicketType.PMS, status__in=LIVE)
                .exclude(pms_reservation=""))
