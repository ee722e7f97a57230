"""What is sent to TIXnGO for one ticket, one event, one card: built here and only here, so that
the operator's templates (TIXNGO_TEMPLATE) change one function, `ticket_fields`.

Who the ticket goes to (the holder) is decided by the caller: the cultural contact, falling back
to the buyer, or — for a reprinted ticket — its last holder as feedback retrieved it (seed 002)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from passgate.catalog.models import Family
from passgate.sales.models import Contact, Gender, Ticket

from .templates import EVENT_FIELDS, FIELDS, TicketTemplates, template_variables

# The seed's mandatory holder field names → the Holder attribute each one needs.
HOLDER_FIELDS = {"FIRSTNAME": "first_name", "LASTNAME": "last_name", "BIRTHDATE": "birth_date",
                 "ID_NUMBER": "id_number", "COUNTRY_CODE": "country_code", "BIRTH_REGION": "birth_region",
                 "BIRTH_PLACE": "birth_place"}
GENDERS = {Gender.FEMALE: "FEMALE", Gender.MALE: "MALE", Gender.OTHER: "OTHER", Gender.UNKNOWN: "UNKNOWN"}
# An event with no performance (open pass, service) lasts this long when its product gives no end.
DEFAULT_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Holder:
    """The person a ticket is assigned to (TIXnGO's spectatorDetails)."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    birth_date: dt.date | None = None
    id_number: str = ""
    country_code: str = ""
    birth_region: str = ""
    birth_place: str = ""
    gender: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_contact(cls, contact: Contact | None) -> Holder:
        if contact is None:
            return cls()
        return cls(contact.first_name, contact.last_name, contact.email, contact.birth_date, contact.id_number,
                   contact.country_code, contact.birth_region, contact.birth_place, contact.gender)

    @classmethod
    def of_wallet(cls, first_name: str, last_name: str, fields: dict[str, Any]) -> Holder:
        """The holder feedback stored (a transfer's new holder)."""
        birth = fields.get("birthDate")
        try:
            birth_date = dt.date.fromisoformat(birth) if birth else None
        except (TypeError, ValueError):
            birth_date = None
        return cls(first_name or "", last_name or "", fields.get("email") or "", birth_date,
                   fields.get("idNumber") or "", fields.get("countryCode") or "", fields.get("birthRegion") or "",
                   fields.get("birthPlace") or "")

    def missing(self, mandatory: list[str]) -> list[str]:
        """The mandatory fields (seed names) this holder lacks."""
        return [name for name in mandatory if not getattr(self, HOLDER_FIELDS[name])]

    def spectator_details(self) -> dict[str, Any]:
        details = {"gender": GENDERS.get(self.gender, "UNKNOWN"), "firstName": self.first_name,
                   "lastName": self.last_name, "email": self.email,
                   "birthDate": self.birth_date.isoformat() if self.birth_date else None,
                   "idNumber": self.id_number, "countryCode": self.country_code.upper() or None,
                   "birthRegion": self.birth_region, "birthPlace": self.birth_place}
        return {k: v for k, v in details.items() if v not in (None, "")}


def _same(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def main_applicant(holder: Holder, buyer: Contact | None) -> bool:
    """True only when the beneficiary (the holder the ticket is sent to — not the cultural contact
    record) has the buyer's first name, last name and e-mail (seed 002)."""
    if buyer is None:
        return False
    return (_same(holder.first_name, buyer.first_name) and _same(holder.last_name, buyer.last_name)
            and _same(holder.email, buyer.email))


def event_id(ticket: Ticket) -> str:
    """TIXnGO's event: the performance, or the product for a ticket without one (open pass, service)."""
    return f"PERF-{ticket.performance_id}" if ticket.performance_id else f"PROD-{ticket.product_id}"


def event_fields(ticket: Ticket, templates: TicketTemplates | None = None) -> dict[str, Any]:
    """The event of `ticket` (PUT /events/{id}); its name follows the operator's `eventName` template."""
    perf, product = ticket.performance, ticket.product
    if perf is not None:
        start, end = perf.starts_at, perf.ends_at
        name = f"{product.name} — {perf.name}" if perf.name else product.name
        address = {"site": perf.venue_site, "city": perf.venue_city,
                   "countryCode": perf.venue_country_code.upper(), "zip": perf.venue_zip}
        address = {k: v for k, v in address.items() if v} or None
    else:
        start = product.valid_from or ticket.created_at
        end = product.valid_until or start + DEFAULT_VALIDITY
        name, address = product.name, None
    body: dict[str, Any] = {"name": name[:255], "startTime": start.isoformat(), "expirationDate": end.isoformat()}
    if address:
        body["address"] = address
    if templates:
        templates.apply(body, template_variables(ticket, Holder()), fields=EVENT_FIELDS)
        body["name"] = body["name"][:255]
    return body


def ticket_fields(ticket: Ticket, holder: Holder, templates: TicketTemplates | None = None) -> dict[str, Any]:
    """The ticket as sent to TIXnGO (POST /tickets), assigned to `holder`; the fields the operator
    templated (TIXNGO_TEMPLATE) are rendered from the ticket's variables. InvalidInput naming the
    template field and line when one cannot be rendered for this ticket."""
    order = ticket.order
    body: dict[str, Any] = {
        "ticketId": str(ticket.pk),
        "eventId": event_id(ticket),
        "barcode": ticket.barcode,
        "fileId": order.file_number,
        "price": float(ticket.price),
        "currency": ticket.currency,
        "sortingKey": f"{order.file_number}-{ticket.pk}",
        "spectatorDetails": holder.spectator_details(),
        "mainApplicant": main_applicant(holder, order.buyer),
        "activationParameters": {"method": "online"},
    }
    if ticket.category_id:
        body["category"] = ticket.category.name[:255]
    if templates:
        templates.apply(body, template_variables(ticket, holder), fields=set(FIELDS) - EVENT_FIELDS)
    return body


def privilege_fields(ticket: Ticket) -> dict[str, Any]:
    """The privilege definition of a membership or season-card product (PUT /privileges/{id})."""
    product = ticket.product
    body: dict[str, Any] = {"name": product.name[:255],
                            "type": "MEMBERSHIP" if product.family == Family.MEMBERSHIP else "SEASON_CARD"}
    if product.valid_from:
        body["validFrom"] = product.valid_from.isoformat()
    if product.valid_until:
        body["validUntil"] = product.valid_until.isoformat()
    return body


def card_fields(ticket: Ticket, holder: Holder, linked_ticket_ids: list[int]) -> dict[str, Any]:
    """A card (POST /privileges/{id}/cards): never transferable, with the tickets it links."""
    return {"cardId": str(ticket.pk), "barcode": ticket.barcode, "transferable": False,
            "ticketIds": [str(i) for i in linked_ticket_ids], "spectatorDetails": holder.spectator_details()}
