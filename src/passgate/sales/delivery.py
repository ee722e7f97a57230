"""Handing tickets over: the PDF (to download, or printed at a point of sale, which marks
the tickets PRINTED) and the e-mail to the buyer. The e-mail is a background task: the
request is recorded at once (OrderEmail QUEUED) and the worker records what happened
(SENT, or FAILED with the mail server's words) on the order's history."""

from __future__ import annotations

import logging
from email.utils import formataddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from passgate.errors import Conflict, InvalidInput, NotFound
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, check_same_organisation, record_audit, snapshot

from . import pdf
from .models import Order, OrderEmail, OrderEmailStatus, Ticket, TicketStatus
from .services import print_ticket

logger = logging.getLogger("passgate.sales")

DEAD = (TicketStatus.CANCELLED, TicketStatus.INVALIDATED)


def _own(actor: Actor, row, what: str) -> None:
    if row.organisation_id != actor.organisation.pk:
        raise NotFound(f"no such {what} in this organisation", field=what, found=row.pk)


def ticket_pdf(actor: Actor, ticket: Ticket) -> bytes:
    """The printable ticket; a cancelled or invalidated ticket has none (it would not pass the door)."""
    actor.require(Permission.SELL)
    _own(actor, ticket, "ticket")
    if ticket.status in DEAD:
        raise Conflict(f"a {ticket.status} ticket cannot be printed", code="illegal_transition", field="status",
                       expected=f"{TicketStatus.NOT_PRINTED} or {TicketStatus.PRINTED}", found=ticket.status)
    return pdf.ticket_pdf(ticket)


def live_tickets(order: Order):
    return order.tickets.exclude(status__in=DEAD)


def order_pdf(actor: Actor, order: Order) -> bytes:
    """The order's live tickets, one page each."""
    actor.require(Permission.SELL)
    _own(actor, order, "order")
    if not live_tickets(order).exists():
        raise Conflict(f"file {order.file_number} has no live ticket to print", code="illegal_transition",
                       field="status", expected="at least one NOT_PRINTED or PRINTED ticket", found=order.status)
    return pdf.order_pdf(order)


def print_order(actor: Actor, order: Order, point_of_sale=None) -> bytes:
    """Print at a point of sale: the tickets not printed yet become PRINTED (already printed
    ones keep their barcode; a new barcode is a reprint), and the PDF of the live tickets."""
    actor.require(Permission.SELL)
    _own(actor, order, "order")
    check_same_organisation(actor, {"point_of_sale": point_of_sale})
    with transaction.atomic():
        for ticket in order.tickets.filter(status=TicketStatus.NOT_PRINTED).order_by("id"):
            print_ticket(actor, ticket, point_of_sale)
        return order_pdf(actor, order)


# ---------------------------------------------------------------- e-mail

def request_order_email(actor: Actor, order: Order, recipient: str | None = None) -> OrderEmail:
    """Queue the e-mail of an order's tickets (to the buyer unless a recipient is given)."""
    from .tasks import send_order_email_task

    actor.require(Permission.SELL)
    _own(actor, order, "order")
    recipient = (recipient or (order.buyer.email if order.buyer else "") or "").strip()
    if not recipient:
        raise InvalidInput("this file's buyer has no e-mail address", field="recipient",
                           expected="an e-mail address (the buyer's, or one given here)", found=None)
    try:
        validate_email(recipient)
    except ValidationError:
        raise InvalidInput("not an e-mail address", field="recipient", expected="name@example.org",
                           found=recipient) from None
    if not live_tickets(order).exists():
        raise Conflict(f"file {order.file_number} has no live ticket to send", code="illegal_transition",
                       field="status", expected="at least one NOT_PRINTED or PRINTED ticket", found=order.status)
    with transaction.atomic():
        email = OrderEmail.objects.create(organisation=order.organisation, order=order, recipient=recipient,
                                          requested_by=actor.label[:200], requested_at=timezone.now())
        record_audit(actor, "email", order, None, snapshot(email))
        # queued once the request is committed, so the worker finds the row
        transaction.on_commit(lambda: send_order_email_task.enqueue(email.pk))
    return email


def sender(organisation: Organisation) -> str:
    """The organisation's name as the display name, on the configured sender address."""
    return formataddr((organisation.name, settings.DEFAULT_FROM_EMAIL))


def order_message(order: Order, recipient: str) -> EmailMultiAlternatives:
    org = order.organisation
    tickets = list(pdf.printable(live_tickets(order)).order_by("id"))
    context = {"order": order, "organisation": org, "tickets": tickets,
               "lines": [(t, pdf.ticket_lines(t)) for t in tickets],
               "buyer": order.buyer.full_name if order.buyer else ""}
    message = EmailMultiAlternatives(
        subject=f"{org.name}: your tickets (file {order.file_number})",
        body=render_to_string("sales/email/order_tickets.txt", context),
        from_email=sender(org), to=[recipient])
    message.attach_alternative(render_to_string("sales/email/order_tickets.html", context), "text/html")
    message.attach(f"tickets-{order.file_number}.pdf", pdf.order_pdf(order, live_tickets(order)),
                   "application/pdf")
    return message


def send_order_email(order_email_id: int) -> bool:
    """Send one queued e-mail (what the worker runs); records SENT or FAILED. Sent once:
    a second run of the same task finds it no longer QUEUED and does nothing."""
    email = OrderEmail.objects.select_related("order__organisation", "order__buyer").get(pk=order_email_id)
    if email.status != OrderEmailStatus.QUEUED:
        return email.status == OrderEmailStatus.SENT
    try:
        order_message(email.order, email.recipient).send()
    except Exception as exc:  # the mail server's refusal, a timeout, a dead host: all recorded
        logger.warning("order e-mail %s to %s failed: %s", email.pk, email.recipient, exc)
        OrderEmail.objects.filter(pk=email.pk).update(status=OrderEmailStatus.FAILED,
                                                      error=f"{type(exc).__name__}: {exc}"[:2000])
        return False
    OrderEmail.objects.filter(pk=email.pk).update(status=OrderEmailStatus.SENT, sent_at=timezone.now(), error="")
    return True
