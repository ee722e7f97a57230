"""Sales API (/api/v1/…): contacts, orders (files) and tickets with their
actions. Thin: selling, cancelling, printing… are sales.services; this module
turns ids into rows of the token's organisation (404 otherwise) and rows into JSON."""

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from passgate.apikit import Id, Text, aware, input_names, local, not_null, paginate, responses
from passgate.catalog.models import Category, Performance, PointOfSale, Product, SalesChannel, Tariff
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get

from . import delivery, services, timeline
from . import schemas as s
from .external import external_sale_from_data, sell_external
from .models import Contact, Order, RetiredBarcode, Ticket

router = Router(tags=["sales"])


# ---------------------------------------------------------------- serialisers

def person_out(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {"id": contact.pk, "number": contact.number, "first_name": contact.first_name,
            "last_name": contact.last_name, "email": contact.email}


def contact_out(c: Contact) -> dict[str, Any]:
    org = c.organisation
    return {
        "id": c.pk, "number": c.number, "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
        "birth_date": c.birth_date, "id_number": c.id_number, "country_code": c.country_code,
        "birth_region": c.birth_region, "birth_place": c.birth_place, "gender": c.gender,
        "payment_modes": list(c.payment_modes or []), "created_at": local(c.created_at, org),
        "updated_at": local(c.updated_at, org),
    }


def ticket_out(t: Ticket, org) -> dict[str, Any]:
    return {
        "id": t.pk, "barcode": t.barcode, "status": t.status, "status_changed_at": local(t.status_changed_at, org),
        "order_id": t.order_id, "file_number": t.order.file_number,
        "product_id": t.product_id, "product_code": t.product.code,
        "performance_id": t.performance_id, "performance_code": t.performance.code if t.performance_id else None,
        "tariff_id": t.tariff_id, "tariff_code": t.tariff.code,
        "category_id": t.category_id, "category_code": t.category.code if t.category_id else None,
        "seat": t.seat, "contingent_code": t.contingent.code if t.contingent_id else None,
        "price": str(t.price), "currency": t.currency,
        "cultural_contact_id": t.cultural_contact_id, "beneficiary": person_out(t.beneficiary),
        "printed_at": local(t.printed_at, org), "printed_by": t.printed_by.code if t.printed_by_id else None,
        "cancelled_at": local(t.cancelled_at, org), "invalidated_at": local(t.invalidated_at, org),
        "reprint_count": t.reprint_count,
        "previous_barcodes": [r.barcode for r in t.retired_barcodes.all()],
        "control_count": t.control_count, "first_controlled_at": local(t.first_controlled_at, org),
        "last_controlled_at": local(t.last_controlled_at, org), "inside": t.inside,
        "created_at": local(t.created_at, org), "updated_at": local(t.updated_at, org),
    }


def order_out(o: Order, org, tickets: list[Ticket] | None = None) -> dict[str, Any]:
    out = {
        "id": o.pk, "file_number": o.file_number, "status": o.status,
        "channel_id": o.channel_id, "channel_code": o.channel.code,
        "point_of_sale_id": o.point_of_sale_id,
        "point_of_sale_code": o.point_of_sale.code if o.point_of_sale_id else None,
        "buyer": person_out(o.buyer), "payment_mode": o.payment_mode, "external_reference": o.external_reference,
        "total": str(o.total), "currency": o.currency,
        "ticket_count": o.ticket_count if hasattr(o, "ticket_count") else o.tickets.count(),
        "created_at": local(o.created_at, org), "cancelled_at": local(o.cancelled_at, org),
        "created_by": o.created_by,
    }
    if tickets is not None:
        out["tickets"] = [ticket_out(t, org) for t in tickets]
    return out


# ---------------------------------------------------------------- querysets

def contacts_of(actor: Actor):
    return Contact.objects.filter(organisation=actor.organisation).select_related("organisation")


def orders_of(actor: Actor):
    return (Order.objects.filter(organisation=actor.organisation)
            .select_related("channel", "point_of_sale", "buyer")
            .annotate(ticket_count=Count("tickets")))


def tickets_of(actor: Actor):
    return (Ticket.objects.filter(organisation=actor.organisation)
            .select_related("order__buyer", "product", "performance", "tariff", "category", "contingent",
                            "cultural_contact", "printed_by")
            .prefetch_related("retired_barcodes"))


def order_detail(actor: Actor, order_id: int) -> dict[str, Any]:
    order = orders_of(actor).get(pk=order_id)
    tickets = list(tickets_of(actor).filter(order=order).order_by("pk"))
    return order_out(order, actor.organisation, tickets)


def ticket_detail(actor: Actor, ticket_id: int) -> dict[str, Any]:
    return ticket_out(tickets_of(actor).get(pk=ticket_id), actor.organisation)


# ---------------------------------------------------------------- contacts

@router.get("/contacts", response=responses(s.ContactPage), operation_id="list_contacts",
            summary="List contacts (search by name, number or e-mail)")
def list_contacts(request: HttpRequest, query: Query[s.ContactQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    qs = contacts_of(actor)
    if query.number is not None:
        qs = qs.filter(number=query.number)
    if query.email is not None:
        qs = qs.filter(email__iexact=query.email)
    for term in (query.search or "").split():
        qs = qs.filter(Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(number__icontains=term)
                       | Q(email__icontains=term))
    return paginate(qs, query.cursor, query.limit, contact_out)


@router.get("/contacts/{id}", response=responses(s.ContactOut), operation_id="get_contact",
            summary="Get a contact")
def get_contact(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    return contact_out(scoped_get(actor, Contact, field="id", pk=id))


@router.post("/contacts", response=responses(s.ContactOut, 201), operation_id="create_contact",
             summary="Create a contact (the number is assigned when empty)")
def create_contact(request: HttpRequest, payload: s.ContactIn) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_CONTACTS)
    contact = services.create_contact(actor, **payload.model_dump())
    return Status(201, contact_out(contacts_of(actor).get(pk=contact.pk)))


@router.patch("/contacts/{id}", response=responses(s.ContactOut), operation_id="update_contact",
              summary="Change a contact (only the fields sent)")
def update_contact(request: HttpRequest, id: Id, payload: s.ContactPatch) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_CONTACTS)
    contact = scoped_get(actor, Contact, field="id", pk=id)
    data = payload.model_dump(exclude_unset=True)
    not_null(data, {"birth_date", "payment_modes"})
    services.update_contact(actor, contact, **data)
    return contact_out(contacts_of(actor).get(pk=contact.pk))


# ---------------------------------------------------------------- orders

def _ref(actor: Actor, model, field: str, pk: int | None):
    return None if pk is None else scoped_get(actor, model, field=field, pk=pk)


@router.post("/orders", response=responses(s.OrderDetailOut, 201, **{"200": s.OrderDetailOut}),
             operation_id="create_order",
             summary="Sell: create an order (file) and its tickets",
             description="Idempotent by external_reference: the same reference on the same channel with the "
                         "same request returns the order created the first time (200 instead of 201); with a "
                         "different request it is refused (409 idempotency_conflict, naming what differs).")
def create_order(request: HttpRequest, payload: s.OrderIn) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    channel = _ref(actor, SalesChannel, "channel_id", payload.channel_id)
    lines = []
    for i, line in enumerate(payload.lines):
        where = f"lines[{i}]"
        lines.append(services.SaleLine(
            product=_ref(actor, Product, f"{where}.product_id", line.product_id),
            tariff=_ref(actor, Tariff, f"{where}.tariff_id", line.tariff_id),
            performance=_ref(actor, Performance, f"{where}.performance_id", line.performance_id),
            category=_ref(actor, Category, f"{where}.category_id", line.category_id),
            seat=line.seat,
            cultural_contact=_ref(actor, Contact, f"{where}.cultural_contact_id", line.cultural_contact_id),
            quantity=line.quantity,
        ))
    sale = services.SaleRequest(
        channel=channel, lines=lines,
        buyer=_ref(actor, Contact, "buyer_id", payload.buyer_id),
        point_of_sale=_ref(actor, PointOfSale, "point_of_sale_id", payload.point_of_sale_id),
        payment_mode=payload.payment_mode, external_reference=payload.external_reference,
    )
    with input_names("channel", "point_of_sale", "buyer", "product", "tariff", "performance", "category",
                     "cultural_contact"):
        order, created = services.sell_once(actor, sale)
    return Status(201 if created else 200, order_detail(actor, order.pk))


@router.post("/sales/external", response=responses(s.OrderDetailOut, 201, **{"200": s.OrderDetailOut}),
             operation_id="create_external_sale",
             summary="Record a sale another seller made (external sales channel)",
             description="Codes, not ids: channel code, buyer contact number, product/season/performance/tariff "
                         "codes. Idempotent by (channel, order_number): the same order again returns the order "
                         "created the first time (200 instead of 201); a different order under the same number "
                         "is refused (409 idempotency_conflict, naming what differs). Only the channel's "
                         "contingent limits it (409 quota_exhausted: retry once the quota is raised). Barcodes "
                         "given are kept as they are (409 barcode_taken when one is already in use).")
def create_external_sale(request: HttpRequest, payload: s.ExternalSaleIn) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    sale = external_sale_from_data(actor, payload.model_dump())
    order, created = sell_external(actor, sale)
    return Status(201 if created else 200, order_detail(actor, order.pk))


@router.get("/orders", response=responses(s.OrderPage), operation_id="list_orders",
            summary="List orders (files)")
def list_orders(request: HttpRequest, query: Query[s.OrderQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    org = actor.organisation
    qs = orders_of(actor)
    for name, lookup in (("file_number", "file_number"), ("status", "status"), ("channel_id", "channel_id"),
                         ("buyer_id", "buyer_id"), ("external_reference", "external_reference")):
        value = getattr(query, name)
        if value is not None:
            qs = qs.filter(**{lookup: value})
    if query.created_since is not None:
        qs = qs.filter(created_at__gte=aware(query.created_since, org))
    return paginate(qs, query.cursor, query.limit, lambda o: order_out(o, org))


@router.get("/orders/by-file-number/{file_number}", response=responses(s.OrderDetailOut),
            operation_id="get_order_by_file_number", summary="Get an order by its file number")
def get_order_by_file_number(request: HttpRequest, file_number: Text) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    order = scoped_get(actor, Order, field="file_number", file_number=file_number)
    return order_detail(actor, order.pk)


@router.get("/orders/{id}", response=responses(s.OrderDetailOut), operation_id="get_order",
            summary="Get an order (file) with its tickets")
def get_order(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    order = scoped_get(actor, Order, field="id", pk=id)
    return order_detail(actor, order.pk)


@router.post("/orders/{id}/cancel", response=responses(s.OrderDetailOut), operation_id="cancel_order",
             summary="Cancel an order: every live ticket is cancelled (409 if already cancelled)")
def cancel_order(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    order = scoped_get(actor, Order, field="id", pk=id)
    services.cancel_order(actor, order)
    return order_detail(actor, order.pk)


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# The PDF answers are binary: documented as application/pdf, not JSON.
PDF_DOC = {"responses": {200: {"description": "The tickets as a PDF, one page per ticket", "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/orders/{id}/pdf", response=responses(None), operation_id="get_order_pdf", openapi_extra=PDF_DOC,
            summary="The order's live tickets as a PDF (one page each, QR code of the barcode); no status change")
def get_order_pdf(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    order = scoped_get(actor, Order, field="id", pk=id)
    return pdf_response(delivery.order_pdf(actor, order), f"tickets-{order.file_number}.pdf")


@router.post("/orders/{id}/print", response=responses(None), operation_id="print_order", openapi_extra=PDF_DOC,
             summary="Print an order at a point of sale: its NOT_PRINTED tickets become PRINTED; returns the PDF")
def print_order(request: HttpRequest, id: Id, payload: s.PrintIn | None = None) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    order = scoped_get(actor, Order, field="id", pk=id)
    point_of_sale = _ref(actor, PointOfSale, "point_of_sale_id", payload.point_of_sale_id if payload else None)
    with input_names("point_of_sale"):
        content = delivery.print_order(actor, order, point_of_sale)
    return pdf_response(content, f"tickets-{order.file_number}.pdf")


@router.post("/orders/{id}/send", response=responses(s.OrderEmailOut, 202), operation_id="send_order",
             summary="E-mail the order's tickets (PDF attached) to the buyer, or to the recipient given",
             description="Queued as a background task: the answer is the queued e-mail (status QUEUED); "
                         "GET /orders/{id}/emails shows whether it was SENT or FAILED, with the error.")
def send_order(request: HttpRequest, id: Id, payload: s.SendIn | None = None) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    order = scoped_get(actor, Order, field="id", pk=id)
    email = delivery.request_order_email(actor, order, payload.recipient if payload else None)
    return Status(202, order_email_out(email, actor.organisation))


@router.get("/orders/{id}/emails", response=responses(list[s.OrderEmailOut]), operation_id="list_order_emails",
            summary="The e-mails of an order's tickets, newest first, with their outcome")
def list_order_emails(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    order = scoped_get(actor, Order, field="id", pk=id)
    return [order_email_out(e, actor.organisation) for e in order.emails.all()]


def order_email_out(e, org) -> dict[str, Any]:
    return {"id": e.pk, "order_id": e.order_id, "recipient": e.recipient, "status": e.status,
            "requested_by": e.requested_by, "requested_at": local(e.requested_at, org),
            "sent_at": local(e.sent_at, org), "error": e.error}


# ---------------------------------------------------------------- tickets

@router.get("/tickets", response=responses(s.TicketPage), operation_id="list_tickets",
            summary="List tickets")
def list_tickets(request: HttpRequest, query: Query[s.TicketQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    org = actor.organisation
    qs = tickets_of(actor)
    for name in ("status", "product_id", "performance_id", "tariff_id", "category_id", "order_id"):
        value = getattr(query, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    if query.file_number is not None:
        qs = qs.filter(order__file_number=query.file_number)
    if query.barcode is not None:
        retired = RetiredBarcode.objects.filter(organisation=org, barcode=query.barcode).values("ticket_id")
        qs = qs.filter(Q(barcode=query.barcode) | Q(pk__in=retired))
    if query.updated_since is not None:
        qs = qs.filter(updated_at__gte=aware(query.updated_since, org))
    return paginate(qs, query.cursor, query.limit, lambda t: ticket_out(t, org))


@router.get("/tickets/{id}", response=responses(s.TicketOut), operation_id="get_ticket", summary="Get a ticket")
def get_ticket(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    return ticket_detail(actor, scoped_get(actor, Ticket, field="id", pk=id).pk)


def _ticket_action(request: HttpRequest, id: int, action) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    ticket = scoped_get(actor, Ticket, field="id", pk=id)
    with input_names("point_of_sale"):
        action(actor, ticket)
    return ticket_detail(actor, ticket.pk)


@router.post("/tickets/{id}/print", response=responses(s.TicketOut), operation_id="print_ticket",
             summary="Print a ticket (NOT_PRINTED → PRINTED)")
def print_ticket(request: HttpRequest, id: Id, payload: s.PrintIn | None = None) -> Any:
    pos_id = payload.point_of_sale_id if payload else None
    return _ticket_action(request, id, lambda actor, t: services.print_ticket(
        actor, t, _ref(actor, PointOfSale, "point_of_sale_id", pos_id)))


@router.post("/tickets/{id}/reprint", response=responses(s.TicketOut), operation_id="reprint_ticket",
             summary="Reprint a ticket: new barcode, the old one invalid for ever (PRINTED only)")
def reprint_ticket(request: HttpRequest, id: Id, payload: s.PrintIn | None = None) -> Any:
    pos_id = payload.point_of_sale_id if payload else None
    return _ticket_action(request, id, lambda actor, t: services.reprint_ticket(
        actor, t, _ref(actor, PointOfSale, "point_of_sale_id", pos_id)))


@router.post("/tickets/{id}/cancel", response=responses(s.TicketOut), operation_id="cancel_ticket",
             summary="Cancel one ticket (its place is given back)")
def cancel_ticket(request: HttpRequest, id: Id) -> Any:
    return _ticket_action(request, id, services.cancel_ticket)


@router.post("/tickets/{id}/invalidate", response=responses(s.TicketOut), operation_id="invalidate_ticket",
             summary="Invalidate a ticket by hand")
def invalidate_ticket(request: HttpRequest, id: Id) -> Any:
    return _ticket_action(request, id, services.invalidate_ticket)


@router.get("/tickets/{id}/pdf", response=responses(None), operation_id="get_ticket_pdf", openapi_extra=PDF_DOC,
            summary="A ticket as a PDF page (QR code of its barcode); no status change")
def get_ticket_pdf(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.SELL)
    ticket = scoped_get(actor, Ticket, field="id", pk=id)
    return pdf_response(delivery.ticket_pdf(actor, ticket), f"ticket-{ticket.pk}.pdf")

# ---------------------------------------------------------------- timeline

@router.get("/tickets/{id}/timeline", response=responses(s.TimelineOut), operation_id="get_ticket_timeline",
            summary="A ticket's trail: sale, prints, reprints, cancel, scans, partner jobs, e-mails, in time order")
def get_ticket_timeline(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    return {"items": timeline.ticket_timeline(actor.organisation, scoped_get(actor, Ticket, field="id", pk=id))}


@router.get("/orders/{id}/timeline", response=responses(s.TimelineOut), operation_id="get_order_timeline",
            summary="The trail of every ticket of an order (file), in time order")
def get_order_timeline(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    return {"items": timeline.order_timeline(actor.organisation, scoped_get(actor, Order, field="id", pk=id))}
