"""The online scan: decide, record, answer; partner cards through their connector."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from passgate.orgs.timezones import format_local
from passgate.sales.models import RetiredBarcode

from .. import connectors as connector_registry
from .. import policy
from ..models import (
    Decision,
    Device,
    Direction,
    ExternalBarcode,
    Operation,
    PartnerFallbackAdmission,
    PostSync,
    Reason,
)
from .decision import (
    TICKET_RELATED,
    _decide_external,
    _decide_ticket,
    find_ticket,
    organisation_day,
    product_facts,
)
from .inputs import _iso, clean_barcode, clean_direction, clean_nonce, clean_time, in_words, zone_of
from .recording import Outcome, _answer, _record, _replay_after_race, replay

logger = logging.getLogger(__name__)


def scan(device: Device, barcode: Any, nonce: Any, scanned_at: Any = None, direction: Any = Direction.ENTRY,
         *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The online decision. Idempotent by (device, nonce): a retry returns the first answer."""
    barcode = clean_barcode(barcode)
    nonce = clean_nonce(nonce)
    direction = clean_direction(direction)
    now = now or timezone.now()
    sent_at = clean_time(scanned_at, "scanned_at") if scanned_at is not None else None
    scanned_at = sent_at or now
    sector = device.door.sector
    org_id = device.organisation_id
    day = organisation_day(org_id, now)
    pending = {"device": device, "barcode": barcode, "nonce": nonce, "scanned_at": scanned_at,
               "direction": direction}
    ticket = read = None
    try:
        if _one_statement_entry(direction):
            # PostgreSQL, an entry: the ticket is read outside any transaction (the admit's
            # compare-and-set checks what was read), and a grant is one statement that admits and
            # records — no BEGIN/COMMIT round trips on the hot path.
            ticket = find_ticket(org_id, barcode, day)
            read = ticket is None  # not a ticket: no need to look again below
            if ticket is not None and not policy.day_limited(product_facts(ticket.product)):
                ticket._day = day
                outcome = _decide_ticket(ticket, sector, direction, now, pending)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
        with transaction.atomic():
            ticket = None if read else find_ticket(org_id, barcode, day)
            if ticket is not None:
                ticket._day = day
                outcome = _decide_ticket(ticket, sector, direction, now, pending)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            retired = RetiredBarcode.objects.filter(organisation_id=org_id, barcode=barcode).select_related(
                *("ticket__" + r for r in TICKET_RELATED)).first()
            if retired is not None:
                outcome = Outcome(Decision.DENIED, Reason.INVALIDATED, ticket=retired.ticket,
                                  message=f"Barcode replaced by a reprint on "
                                          f"{format_local(retired, retired.retired_at, '%Y-%m-%d %H:%M')}")
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            ext = ExternalBarcode.objects.select_related("product").filter(
                organisation_id=org_id, barcode=barcode).first()
            served = connector_registry.for_sector(sector)
            if ext is not None and not (served is not None and ext.source == served[0].name):
                outcome = _decide_external(ext, sector, direction, now)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            try:
                recognised = served is not None and served[0].recognises(barcode, sector, served[1])
            except Exception as exc:  # a connector's bug must not become a 500 at the door
                outcome = _partner_error(served[0], barcode, exc)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
            if not recognised:
                outcome = Outcome(Decision.DENIED, Reason.UNKNOWN_BARCODE)
                return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
    except IntegrityError as exc:
        return _replay_after_race(device, nonce, exc, barcode, direction, sent_at)
    return _scan_with_connector(device, served, sector, barcode, nonce, scanned_at, direction, now, ext, sent_at)


def _scan_with_connector(device, served, sector, barcode, nonce, scanned_at, direction, now, ext,
                         sent_at=None) -> dict:
    """Partner cards: the partner call happens outside any database transaction."""
    previous = replay(device, nonce, barcode, direction, sent_at)
    if previous is not None:
        return previous
    connector, interface = served
    check = connector_registry.PartnerCheck(
        organisation_id=device.organisation_id, sector=sector, interface=interface, door_code=device.door.code, device_id=device.pk,
        barcode=barcode, scanned_at=scanned_at, direction=direction, offline=False,
        reference=f"{device.pk}:{nonce}")
    fallback = None
    try:
        result = connector.validate(check)
    except connector_registry.PartnerUnavailable as exc:
        if sector.admit_when_partner_unreachable:
            outcome = Outcome(Decision.GRANTED, connector=connector.name, postsync=PostSync.PENDING,
                              operation=Operation.OFFLINE_OK, external=ext,
                              message="Partner unreachable: admitted on card detection, once at this sector today; "
                                      "will be synchronised")
            fallback = connector.fallback_window(now, _zone(device))
        else:
            outcome = Outcome(Decision.DENIED, Reason.PARTNER_UNAVAILABLE, connector=connector.name, external=ext,
                              message=f"Partner unreachable: {exc}"[:300] if str(exc) else "")
    except Exception as exc:  # a connector's bug or a partner's garbage: denied, recorded, logged; never a 500
        outcome = _partner_error(connector, barcode, exc, external=ext)
    else:
        outcome = Outcome(
            Decision.GRANTED if result.granted else Decision.DENIED,
            "" if result.granted else (result.reason or Reason.PARTNER_REFUSED),
            message=result.message, connector=connector.name, recorded_barcode=result.recorded_barcode,
            info=result.info or None, partner_reason=result.partner_reason, external=ext,
            product_id=result.product_id)
    try:
        with transaction.atomic():
            if fallback is not None:
                outcome = _admit_once(device, sector, barcode, now, fallback, outcome)
            return _answer(_record(device, barcode, nonce, scanned_at, direction, outcome, now))
    except IntegrityError as exc:
        return _replay_after_race(device, nonce, exc, barcode, direction, sent_at)


def _one_statement_entry(direction: str) -> bool:
    return (direction == Direction.ENTRY and connection.vendor == "postgresql"
            and not connection.in_atomic_block)


def _zone(device: Device):
    return zone_of(device.organisation_id)


def _partner_error(connector, barcode: str, exc: Exception, external=None) -> Outcome:
    logger.exception("connector %s failed on card %s", getattr(connector, "name", "?"), barcode)
    return Outcome(Decision.DENIED, Reason.PARTNER_ERROR, connector=getattr(connector, "name", ""),
                   external=external, detail=f"{type(exc).__name__}: {exc}"[:300])


def _admit_once(device: Device, sector, barcode: str, now: dt.datetime, window, outcome: Outcome) -> Outcome:
    """Partner down: the card is admitted once per sector per window, not at every scan or door."""
    start, end = window
    try:
        with transaction.atomic():
            PartnerFallbackAdmission.objects.create(
                organisation_id=device.organisation_id, sector=sector, card=barcode, window_start=start,
                window_end=end, admitted_at=now, door_code=device.door.code)
        return outcome
    except IntegrityError:
        first = PartnerFallbackAdmission.objects.filter(
            organisation_id=device.organisation_id, sector=sector, card=barcode, window_start=start).first()
        when = in_words(first.admitted_at, device.organisation_id, now) if first else "at ?"
        door = first.door_code if first else "?"
        return Outcome(Decision.DENIED, Reason.ALREADY_CONTROLLED, connector=outcome.connector,
                       external=outcome.external,
                       message=f"Partner unreachable: this card was already admitted offline at this sector "
                               f"{when} (door {door})",
                       previous={"at": _iso(first.admitted_at, device.organisation_id) if first else None,
                                 "door": door})
