"""The issued list (seed: Accesses → Tickets → Tickets issued), shared by the admin and the API:
its columns, its filters, its CSV export and the sentence a cancel answers with."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from passgate.errors import NotFound
from passgate.orgs.admin_base import export_csv
from passgate.orgs.models import Organisation

from .models import Disconnect, GuestTicket
from .services import filter_tickets, tickets_with_usage

CSV_HEADER = ["serial", "created", "user_id", "type", "status", "connections", "first_login", "expires",
              "devices", "session_time_s", "upload_bytes", "download_bytes", "username"]


def filtered(organisation: Organisation, criteria: dict[str, Any]) -> QuerySet[GuestTicket]:
    clean = {k: v for k, v in criteria.items() if v not in (None, "")}
    return filter_tickets(tickets_with_usage(organisation).select_related("method", "location"), **clean)


def one(organisation: Organisation, serial: str) -> GuestTicket:
    ticket = (tickets_with_usage(organisation).select_related("method", "location")
              .filter(serial=serial).first())
    if ticket is None:
        raise NotFound("no guest ticket with this serial number in this organisation", field="serial", found=serial)
    return ticket


def csv_rows(qs: QuerySet[GuestTicket]):
    for t in qs.order_by("pk").iterator(chunk_size=2000):
        yield [t.serial, t.created_at.isoformat(), t.user_id, t.type, t.status, t.connections,
               t.first_login_at.isoformat() if t.first_login_at else "",
               t.expires_at.isoformat() if t.expires_at else "", t.devices, t.session_time, t.upload, t.download,
               t.username]


def csv_response(qs: QuerySet[GuestTicket]):
    return export_csv("guest-tickets.csv", CSV_HEADER, csv_rows(qs))


def cancel_message(ticket: GuestTicket, cuts: list[Disconnect]) -> str:
    if not cuts:
        return f"Ticket {ticket.serial} cancelled; it had no open session."
    return (f"Ticket {ticket.serial} cancelled; a Disconnect-Request is on its way to the access point for "
            f"{len(cuts)} open session{'s' if len(cuts) != 1 else ''}.")
