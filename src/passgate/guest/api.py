"""Guest WiFi API, mounted at /api/v1/guest/: issue tickets (type API by default, idempotent by
a client reference), the issued list with the seed's filters, cancel, re-send, slip, CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from passgate.apikit import DateIn, DateTimeIn, ErrorOut, Limit, Text, aware, paginate, responses
from passgate.errors import InvalidInput
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get

from . import delivery, listing, services
from .models import AccessMethod, GuestStatus, GuestTicket, TicketType

PREFIX = "/v1/guest/"
router = Router(tags=["guest"])


def _actor(request: HttpRequest, permission: Permission) -> Actor:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    actor.require(permission)
    return actor


class GuestIssueIn(Schema):
    """Issue guest WiFi tickets (type API unless said otherwise). With a client_reference the call is
    idempotent: repeating it returns the first call's tickets (HTTP 200 instead of 201) and sends
    nothing already sent; the same reference with different content is refused (409)."""

    model_config = {"json_schema_extra": {"examples": [{
        "method": "DAY", "user_id": "ana@example.org", "extra": {"room": "204"},
        "client_reference": "booking-2031-0042", "deliver": ["EMAIL"]}]}}

    method: Text = Field(description="Access method code (the location's predefined rate).", max_length=40)
    count: int = Field(1, ge=1, le=services.MAX_COUNT, description="How many tickets (1 when delivering).")
    type: Literal[tuple(TicketType.values)] = Field(  # type: ignore[valid-type]
        "API", description="Ticket type; API for this channel. INDIVIDUAL, VARIABLE and SPECIAL must match the "
                           "method's format.")
    user_id: Text = Field("", max_length=254, description="The recipient: e-mail (deliver EMAIL) or mobile in "
                                                          "international or national form (deliver SMS).")
    extra: dict[str, Text | int | float | None] = Field(
        default_factory=dict, description="Values of the method's extra fields, by field name; required ones "
                                          "must be present, unknown ones are refused.")
    valid_from: DateTimeIn | DateIn | None = Field(None, description="Variable/Special: first day (or instant).")
    valid_until: DateTimeIn | DateIn | None = Field(None, description="Variable/Special: last day (or instant).")
    username: Text | None = Field(None, max_length=64, description="Special methods: the operator's own.")
    password: Text | None = Field(None, max_length=64, description="Special methods: the operator's own.")
    devices: int | None = Field(None, ge=1, le=1000, description="Special methods: simultaneous devices.")
    quota_bytes: int | None = Field(None, ge=1, le=2**63 - 1, description="Special methods: data quota in bytes.")
    client_reference: Text | None = Field(None, max_length=100, description="Idempotency key: the same "
                                                                             "reference returns the same tickets.")
    deliver: list[Literal["EMAIL", "SMS"]] = Field(
        default_factory=list, description="Send the ticket to user_id by these channels (count 1). Checked before "
                                          "issuing; each channel is sent once per client_reference.")


class GuestSessionOut(Schema):
    unique_id: str
    nas: str | None
    nas_ip: str | None
    mac: str
    ip: str | None
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    session_time: int
    upload: int
    download: int
    terminate_cause: str


class GuestTicketOut(Schema):
    serial: str
    created_at: dt.datetime
    user_id: str
    type: str
    status: str
    method: str
    location: str
    username: str
    password: str
    valid_from: dt.datetime | None
    expires_at: dt.datetime | None
    first_login_at: dt.datetime | None
    devices: int
    quota_bytes: int | None
    price: str
    currency: str
    extra: dict[str, Any]
    connections: int | None = None
    session_time: int | None = None
    upload: int | None = None
    download: int | None = None


class GuestIssueOut(Schema):
    created: bool = Field(description="False when a client_reference replayed an earlier call.")
    client_reference: str | None
    tickets: list[GuestTicketOut]
    delivered: list[str] = Field(description="Addresses/numbers this call sent the ticket to (a replay sends "
                                             "only what the first call could not).")


class GuestTicketPage(Schema):
    items: list[GuestTicketOut]
    next_cursor: str | None


class GuestTicketDetail(GuestTicketOut):
    sessions: list[GuestSessionOut]


class GuestListQuery(Schema):
    serial: Text | None = Field(None, max_length=16)
    user_id: Text | None = Field(None, max_length=254)
    username: Text | None = Field(None, max_length=64)
    type: Literal[tuple(TicketType.values)] | None = None  # type: ignore[valid-type]
    status: Literal[tuple(GuestStatus.values)] | None = None  # type: ignore[valid-type]
    created_from: DateTimeIn | None = None
    created_to: DateTimeIn | None = None
    first_login_from: DateTimeIn | None = None
    first_login_to: DateTimeIn | None = None
    connections_min: int | None = Field(None, ge=0, le=10**9)
    connections_max: int | None = Field(None, ge=0, le=10**9)
    devices: int | None = Field(None, ge=1, le=1000)
    cursor: Text | None = Field(None, max_length=100)
    limit: Limit = 100


class GuestCancelOut(Schema):
    ticket: GuestTicketOut
    disconnects: int
    message: str


class GuestResendIn(Schema):
    channel: Literal["EMAIL", "SMS"]
    to: Text | None = Field(None, max_length=254)


class GuestResendOut(Schema):
    channel: str
    to: str


def ticket_out(t: GuestTicket) -> dict[str, Any]:
    return {"serial": t.serial, "created_at": t.created_at, "user_id": t.user_id, "type": t.type, "status": t.status,
            "method": t.method.code, "location": t.location.code, "username": t.username, "password": t.password,
            "valid_from": t.valid_from, "expires_at": t.expires_at, "first_login_at": t.first_login_at,
            "devices": t.devices, "quota_bytes": t.quota_bytes, "price": str(t.price), "currency": t.currency,
            "extra": t.extra, "connections": getattr(t, "connections", None),
            "session_time": getattr(t, "session_time", None), "upload": getattr(t, "upload", None),
            "download": getattr(t, "download", None)}


def session_out(s) -> dict[str, Any]:
    return {"unique_id": s.unique_id, "nas": s.nas.name if s.nas else None, "nas_ip": s.nas_ip,
            "mac": s.calling_station, "ip": s.framed_ip, "started_at": s.started_at, "stopped_at": s.stopped_at,
            "session_time": s.session_time, "upload": s.input_octets, "download": s.output_octets,
            "terminate_cause": s.terminate_cause}


def _ticket(actor: Actor, serial: str) -> GuestTicket:
    return listing.one(actor.organisation, serial)


@router.post("/tickets", response=responses(GuestIssueOut, 201, **{"200": GuestIssueOut, "502": ErrorOut}), operation_id="issue_guest_tickets",
             summary="Issue guest WiFi tickets")
def issue(request: HttpRequest, payload: GuestIssueIn) -> Any:
    actor = _actor(request, Permission.SELL)
    method = scoped_get(actor, AccessMethod, "method", code=payload.method)
    org = actor.organisation
    valid_from = aware(payload.valid_from, org) if isinstance(payload.valid_from, dt.datetime) else payload.valid_from
    valid_until = (aware(payload.valid_until, org) if isinstance(payload.valid_until, dt.datetime)
                   else payload.valid_until)
    if payload.deliver and payload.count != 1:
        raise InvalidInput("delivery sends one ticket to one recipient", field="deliver",
                           expected="count 1 with deliver, or no delivery", found=payload.count)
    for channel in payload.deliver:  # before issuing: a delivery that cannot work leaves nothing behind
        delivery.check_deliverable(method.location, channel, payload.user_id)
    issued = services.issue_tickets(actor, services.IssueRequest(
        method=method, count=payload.count, type=payload.type, user_id=payload.user_id, extra=payload.extra,
        valid_from=valid_from, valid_until=valid_until, username=payload.username, password=payload.password,
        devices=payload.devices, quota_bytes=payload.quota_bytes, client_reference=payload.client_reference))
    # A replay sends only what the first request could not (the batch records what was sent).
    delivered = delivery.deliver_once(issued.batch, issued.tickets[0], payload.deliver) if payload.deliver else []
    return Status(201 if issued.created else 200, {
        "created": issued.created, "client_reference": issued.batch.client_reference,
        "tickets": [ticket_out(t) for t in issued.tickets], "delivered": delivered})


@router.get("/tickets", response=responses(GuestTicketPage), operation_id="list_guest_tickets",
            summary="The issued list, with the seed's filters")
def list_tickets(request: HttpRequest, query: Query[GuestListQuery]) -> Any:
    actor = _actor(request, Permission.VIEW)
    qs = listing.filtered(actor.organisation, query.dict(exclude={"cursor", "limit"}))
    return paginate(qs, query.cursor, query.limit, ticket_out)


# Binary and CSV answers: documented with their media type, and their refusals as JSON errors.
CSV_DOC = {"responses": {"200": {"description": "The issued list as CSV", "content": {
    "text/csv": {"schema": {"type": "string"}}}}}}
PDF_DOC = {"responses": {"200": {"description": "The slip", "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/tickets.csv", response=responses(None), operation_id="export_guest_tickets", openapi_extra=CSV_DOC,
            summary="The issued list as CSV (same filters)")
def export(request: HttpRequest, query: Query[GuestListQuery]) -> HttpResponse:
    actor = _actor(request, Permission.VIEW)
    qs = listing.filtered(actor.organisation, query.dict(exclude={"cursor", "limit"}))
    return listing.csv_response(qs)


@router.get("/tickets/{serial}", response=responses(GuestTicketDetail), operation_id="get_guest_ticket",
            summary="One ticket with its connections")
def get_ticket(request: HttpRequest, serial: str) -> Any:
    actor = _actor(request, Permission.VIEW)
    ticket = _ticket(actor, serial)
    return {**ticket_out(ticket), "sessions": [session_out(s) for s in
                                               ticket.sessions.select_related("nas").order_by("-started_at")]}


@router.post("/tickets/{serial}/cancel", response=responses(GuestCancelOut), operation_id="cancel_guest_ticket",
             summary="Cancel a ticket and cut its open sessions")
def cancel(request: HttpRequest, serial: str) -> Any:
    actor = _actor(request, Permission.SELL)
    ticket = _ticket(actor, serial)
    cuts = services.cancel_ticket(actor, ticket)
    ticket = _ticket(actor, serial)
    return {"ticket": ticket_out(ticket), "disconnects": len(cuts), "message": listing.cancel_message(ticket, cuts)}


@router.post("/tickets/{serial}/resend", response=responses(GuestResendOut), operation_id="resend_guest_ticket",
             summary="Send the credentials again by e-mail or SMS")
def resend(request: HttpRequest, serial: str, payload: GuestResendIn) -> Any:
    actor = _actor(request, Permission.SELL)
    ticket = _ticket(actor, serial)
    return {"channel": payload.channel, "to": delivery.deliver(ticket, payload.channel, payload.to)}


@router.get("/tickets/{serial}/slip.pdf", response=responses(None), operation_id="print_guest_ticket",
            openapi_extra=PDF_DOC, summary="The printable slip (PDF)")
def slip(request: HttpRequest, serial: str) -> HttpResponse:
    actor = _actor(request, Permission.VIEW)
    ticket = _ticket(actor, serial)
    response = HttpResponse(delivery.slip_pdf([ticket]), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="wifi-{ticket.serial}.pdf"'
    return response
