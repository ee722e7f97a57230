"""PayPal's business rules: which account a location pays into, a purchase from order to ticket, and
what each webhook does. Views and admin only translate to and from these functions.

The one rule that matters: a ticket is issued only on a capture whose own status is COMPLETED (never
on the order's status), and always with client_reference "paypal:<capture id>", so the return page,
a reload and any number of webhooks all land on the same ticket.
"""

from __future__ import annotations

import logging
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from passgate.errors import InvalidInput, NotFound
from passgate.guest import delivery
from passgate.guest import services as guest
from passgate.guest.channels import Purchase
from passgate.guest.models import Format, GuestStatus, GuestTicket, Location, TicketType
from passgate.jobs.partner_http import check_http_url
from passgate.jobs.secrets import decrypt_cached, encrypt
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, record_audit, snapshot

from .client import Capture, PaypalClient
from .models import PaymentStatus, PaypalAccount, PaypalPayment, PaypalWebhookEvent

logger = logging.getLogger("passgate.paypal")

REFERENCE_PREFIX = "PGW-"
# Payments whose fate is settled: a late webhook or a reload does not move them back.
SETTLED = {PaymentStatus.COMPLETED, PaymentStatus.REFUNDED}


def actor(organisation: Organisation) -> Actor:
    return Actor.system(organisation, "paypal")


# ---------------------------------------------------------------- accounts

def create_account(actor: Actor, *, client_id: str, secret: str, base_url: str, webhook_id: str = "",
                   location: Location | None = None, brand_name: str = "") -> PaypalAccount:
    actor.require(Permission.MANAGE_ACCESS)
    if location is not None and location.organisation_id != actor.organisation.pk:
        raise NotFound("no such location in this organisation", field="location", found=location.pk)
    if not client_id.strip():
        raise InvalidInput("a PayPal account needs its client ID", field="client_id",
                           expected="the REST app's client ID", found="")
    if not secret:
        raise InvalidInput("a PayPal account needs its secret", field="secret",
                           expected="the REST app's secret", found="")
    base_url, _ = check_http_url(base_url, "base_url")
    account = PaypalAccount(organisation=actor.organisation, location=location, base_url=base_url,
                            client_id=client_id.strip(), secret_encrypted=encrypt(secret),
                            webhook_id=webhook_id.strip(), brand_name=brand_name)
    try:
        with transaction.atomic():
            account.save()
            record_audit(actor, "create", account, None, snapshot(account))
    except IntegrityError:
        raise InvalidInput("this place has a PayPal account already", field="location",
                           expected="one account per location (and one for all)",
                           found=location.code if location else "all locations") from None
    return account


def set_secret(actor: Actor, account: PaypalAccount, secret: str) -> None:
    """A blank secret keeps the stored one (a form that never echoes it cannot wipe it)."""
    actor.require(Permission.MANAGE_ACCESS)
    if secret:
        account.secret_encrypted = encrypt(secret)
        account.save(update_fields=["secret_encrypted"])
        record_audit(actor, "set_secret", account, None, {"secret": "(changed)"})


def account_for(location: Location) -> PaypalAccount | None:
    """The location's own account, else the organisation's one for all locations."""
    accounts = PaypalAccount.objects.filter(organisation_id=location.organisation_id, active=True)
    return accounts.filter(location=location).first() or accounts.filter(location__isnull=True).first()


def available(location: Location) -> bool:
    return account_for(location) is not None


def client_for(account: PaypalAccount) -> PaypalClient:
    return PaypalClient(account.base_url, account.client_id, decrypt_cached(account.secret_encrypted))


# ---------------------------------------------------------------- a purchase

def price_of(purchase: Purchase) -> tuple[Decimal, int]:
    """What the purchase must cost, and for how many days; refuses what could not be issued after
    the guest has paid (a method that is free, switched off, or days outside its bounds)."""
    method = purchase.method
    if method.location_id != purchase.location.pk:
        raise InvalidInput("this access method is not sold here", field="method",
                           expected=f"a method of {purchase.location.code}", found=method.code)
    if not method.active:
        raise InvalidInput("this access method is switched off", field="method", expected="an active method",
                           found=method.code)
    if method.price <= 0:
        raise InvalidInput("this access method is free: nothing to pay", field="method",
                           expected="a method with a price", found=f"{method.code} ({method.price})")
    required = [f.get("name", "") for f in method.extra_fields or [] if f.get("required")]
    if required:  # the portal asks for no extra fields: such a ticket could not be issued once paid
        raise InvalidInput("this access method asks for fields the portal does not collect", field="method",
                           expected="a method without required extra fields",
                           found=f"{method.code} requires {', '.join(required)}")
    if method.format == Format.SINGLE:
        return method.price, 1
    if method.format != Format.VARIABLE:
        raise InvalidInput("only Single and Variable methods are sold through PayPal", field="method",
                           expected="SINGLE or VARIABLE", found=method.format)
    first, last = purchase.first_day, purchase.last_day
    if first is None or last is None:
        raise InvalidInput("a Variable access needs its first and last day", field="first_day" if first is None
                           else "last_day", expected="YYYY-MM-DD", found="nothing")
    days = (last - first).days + 1
    if not method.min_days <= days <= method.max_days:
        raise InvalidInput("the number of days is outside the method's bounds", field="last_day",
                           expected=f"between {method.min_days} and {method.max_days} days",
                           found=f"{days} day(s) ({first} to {last})")
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(purchase.location.time_zone)).date()
    if first < today:
        raise InvalidInput("the first day is already past", field="first_day", expected=f"{today} or later",
                           found=str(first))
    return method.price * days, days


def begin(purchase: Purchase, urls: Callable[[str], tuple[str, str]]) -> tuple[PaypalPayment, str]:
    """Records the payment and creates its PayPal order; returns the payment and the URL where the
    payer approves it. `urls(reference)` gives the return and cancel URLs."""
    location = purchase.location
    account = account_for(location)
    if account is None:
        raise InvalidInput("this place takes no PayPal payments", field="provider",
                           expected="a location with a PayPal account", found=location.code)
    amount, days = price_of(purchase)
    if purchase.amount != amount or purchase.currency != purchase.method.currency:
        raise InvalidInput("the amount does not match the access method's price", field="amount",
                           expected=f"{amount} {purchase.method.currency}",
                           found=f"{purchase.amount} {purchase.currency}")
    now = timezone.now()
    payment = PaypalPayment.objects.create(
        organisation_id=location.organisation_id, reference=REFERENCE_PREFIX + secrets.token_hex(8).upper(),
        account=account, location=location, method=purchase.method, first_day=purchase.first_day,
        last_day=purchase.last_day, days=days, amount=amount, currency=purchase.currency,
        guest_email=(purchase.email or "").strip(), created_at=now, updated_at=now)
    return_url, cancel_url = urls(payment.reference)
    description = f"WiFi {purchase.method.name} — {location.name}" + (f", {days} days" if days > 1 else "")
    try:
        with client_for(account) as paypal:
            order = paypal.create_order(reference=payment.reference, amount=amount, currency=payment.currency,
                                        description=description, return_url=return_url, cancel_url=cancel_url,
                                        brand_name=account.brand_name or location.name)
    except Exception as exc:
        _set(payment, status=PaymentStatus.FAILED, last_error=str(exc)[:1000])
        raise
    _set(payment, order_id=order.id)
    return payment, order.approve_url


@dataclass(frozen=True)
class Outcome:
    """What the guest's return from PayPal came to: `ticket` when one is issued; `status` else."""

    payment: PaypalPayment
    status: str
    ticket: GuestTicket | None = None
    detail: str = ""


def find_payment(reference: str) -> PaypalPayment:
    payment = (PaypalPayment.objects.select_related("account", "location", "method", "ticket")
               .filter(reference=reference).first())
    if payment is None:
        raise NotFound("no such PayPal payment", field="reference", found=reference)
    return payment


def complete(reference: str, order_token: str) -> Outcome:
    """The payer is back from PayPal: capture the order and issue the ticket if — and only if — the
    capture itself is COMPLETED. A reload after that shows the same ticket without capturing again."""
    payment = find_payment(reference)
    if payment.ticket_id:
        return Outcome(payment, payment.status, payment.ticket)
    if order_token != payment.order_id:
        raise InvalidInput("this return link is for another PayPal order", field="token",
                           expected=payment.order_id, found=order_token)
    if payment.status in (PaymentStatus.REFUNDED, PaymentStatus.REVERSED, PaymentStatus.DENIED):
        return Outcome(payment, payment.status)
    with client_for(payment.account) as paypal:
        capture = paypal.capture_order(payment.order_id, request_id=f"{payment.reference}-capture")
    return _settle(payment, capture)


def _settle(payment: PaypalPayment, capture: Capture) -> Outcome:
    if capture.capture_status != "COMPLETED":
        # An order COMPLETED with a capture PENDING or DECLINED is no payment (yet).
        status = {"PENDING": PaymentStatus.PENDING, "DECLINED": PaymentStatus.DECLINED,
                  "FAILED": PaymentStatus.DECLINED}.get(capture.capture_status, PaymentStatus.PENDING)
        _set(payment, status=status, capture_id=capture.capture_id, payer_email=capture.payer_email,
             last_error=f"capture {capture.capture_status or 'missing'} (order {capture.order_status})")
        return Outcome(payment, status, detail=capture.capture_status)
    ticket = issue_for(payment, capture.capture_id, capture.payer_email, capture.amount, capture.currency)
    payment.refresh_from_db()
    return Outcome(payment, payment.status, ticket)


def issue_for(payment: PaypalPayment, capture_id: str, payer_email: str, amount: Decimal | None,
              currency: str) -> GuestTicket | None:
    """Issues the ticket of a COMPLETED capture (once: the capture id is the idempotency key) and
    e-mails it to the payer. A paid amount that is not the payment's is not honoured."""
    if amount is not None and (amount != payment.amount or (currency and currency != payment.currency)):
        _set(payment, status=PaymentStatus.FAILED, capture_id=capture_id,
             last_error=f"captured {amount} {currency}, expected {payment.amount} {payment.currency}")
        logger.error("PayPal payment %s captured %s %s instead of %s %s: no ticket", payment.reference, amount,
                     currency, payment.amount, payment.currency)
        return None
    request = guest.IssueRequest(method=payment.method, type=TicketType.PAYPAL, user_id=payer_email,
                                 client_reference=f"paypal:{capture_id}")
    if payment.method.format == Format.VARIABLE:
        request.valid_from, request.valid_until = payment.first_day, payment.last_day
    try:
        issued = guest.issue_tickets(actor(payment.organisation), request)
    except InvalidInput as exc:  # paid, but the ticket cannot be made: the operator must refund
        _set(payment, status=PaymentStatus.FAILED, capture_id=capture_id, payer_email=payer_email,
             last_error=f"paid but not issued: {exc}")
        logger.error("PayPal payment %s paid but not issued: %s", payment.reference, exc)
        return None
    ticket = issued.tickets[0]
    with transaction.atomic():
        locked = PaypalPayment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.REFUNDED:
            locked.status = PaymentStatus.COMPLETED
        locked.capture_id, locked.payer_email, locked.ticket = capture_id, payer_email, ticket
        locked.last_error, locked.updated_at = "", timezone.now()
        locked.save()
    if issued.created:  # only the path that made the ticket sends it: one e-mail however many paths
        recipients = [a for a in dict.fromkeys([payer_email, payment.guest_email]) if a]
        transaction.on_commit(lambda: _email(ticket, recipients))
    return ticket


def _email(ticket: GuestTicket, recipients: list[str]) -> None:
    for recipient in recipients:
        try:
            delivery.send_email(ticket, recipient)
        except Exception:  # the page shows the credentials anyway; a mail failure must not undo a sale
            logger.exception("PayPal ticket %s: e-mail to %s failed", ticket.serial, recipient)


def abandon(reference: str) -> PaypalPayment:
    """The payer cancelled on PayPal's page: nothing was paid, nothing is issued."""
    payment = find_payment(reference)
    if payment.status == PaymentStatus.CREATED:
        _set(payment, status=PaymentStatus.ABANDONED)
    return payment


def _set(payment: PaypalPayment, **fields: Any) -> None:
    fields["updated_at"] = timezone.now()
    PaypalPayment.objects.filter(pk=payment.pk).update(**fields)
    for name, value in fields.items():
        setattr(payment, name, value)


def refund(actor: Actor, payment: PaypalPayment) -> dict[str, Any]:
    """Asks PayPal to refund a completed payment; PayPal's REFUNDED webhook then cancels the ticket."""
    actor.require(Permission.SELL)
    if payment.status != PaymentStatus.COMPLETED or not payment.capture_id:
        raise InvalidInput("only a completed payment can be refunded", field="status", expected="COMPLETED",
                           found=payment.status)
    with client_for(payment.account) as paypal:
        return paypal.refund_capture(payment.capture_id, request_id=f"{payment.reference}-refund")


# ---------------------------------------------------------------- webhooks

@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    message: str


def receive_webhook(account: PaypalAccount, headers: dict[str, str], raw: bytes) -> WebhookAnswer:
    """Verifies a webhook with PayPal, keeps it once by its id, and acts on it. A forged one is
    refused (400) and kept as unverified; PayPal unreachable → 503, so PayPal sends it again later."""
    import json

    try:
        event = json.loads(raw)
        event_id, event_type = str(event["id"]), str(event["event_type"])
        resource = event.get("resource") or {}
        if not isinstance(resource, dict):
            raise TypeError("resource")
    except (ValueError, KeyError, TypeError):
        return WebhookAnswer(400, "not a PayPal webhook event (expected JSON with id, event_type, resource)")
    now = timezone.now()
    with client_for(account) as paypal:
        verified = paypal.verify_webhook(headers, account.webhook_id, raw)
    row = dict(organisation_id=account.organisation_id, account=account, event_id=event_id[:100],
               event_type=event_type[:80], resource_id=str(resource.get("id", ""))[:100], received_at=now,
               payload=event)
    if not verified:
        PaypalWebhookEvent.objects.create(verified=False, outcome="refused: signature not verified", **row)
        logger.warning("PayPal webhook %s (%s) for account %s refused: signature not verified", event_id,
                       event_type, account.pk)
        return WebhookAnswer(400, "webhook signature not verified")
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = PaypalWebhookEvent.objects.create(verified=True, **row)
        except IntegrityError:
            return WebhookAnswer(200, "event already received")
        outcome = _act(account, event_type, resource)
        stored.outcome = outcome[:200]
        stored.save(update_fields=["outcome"])
    return WebhookAnswer(200, outcome)


def _payment_of(account: PaypalAccount, *, reference: str = "", capture_id: str = "",
                order_id: str = "") -> PaypalPayment | None:
    payments = PaypalPayment.objects.select_related("account", "location", "method", "ticket").filter(
        organisation_id=account.organisation_id)
    for field_name, value in (("reference", reference), ("capture_id", capture_id), ("order_id", order_id)):
        if value:
            found = payments.filter(**{field_name: value}).first()
            if found is not None:
                return found
    return None


def _up_capture(resource: dict[str, Any]) -> str:
    """A refund names its capture in its `up` link (…/v2/payments/captures/<id>)."""
    for link in resource.get("links") or []:
        if link.get("rel") == "up" and "/captures/" in str(link.get("href", "")):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return ""


def _act(account: PaypalAccount, event_type: str, resource: dict[str, Any]) -> str:
    related = ((resource.get("supplementary_data") or {}).get("related_ids") or {})
    if event_type == "PAYMENT.CAPTURE.COMPLETED":
        payment = _payment_of(account, reference=str(resource.get("custom_id", "")),
                              capture_id=str(resource.get("id", "")), order_id=str(related.get("order_id", "")))
        if payment is None:
            return "no such payment"
        if payment.ticket_id:
            return f"ticket {payment.ticket.serial} already issued"
        if payment.status in (PaymentStatus.REFUNDED, PaymentStatus.REVERSED):  # a late event: money gone back
            return f"payment {payment.status}: no ticket"
        if resource.get("status") != "COMPLETED":
            return f"capture {resource.get('status')}: no ticket"
        email = payment.payer_email
        if not email:  # a capture does not name its payer: the order does
            with client_for(account) as paypal:
                email = paypal.get_order(payment.order_id).payer_email
        amount = resource.get("amount") or {}
        ticket = issue_for(payment, str(resource["id"]), email,
                           Decimal(str(amount["value"])) if "value" in amount else None,
                           str(amount.get("currency_code", "")))
        return f"ticket {ticket.serial} issued" if ticket else "paid but not issued"
    if event_type == "PAYMENT.CAPTURE.DENIED":
        payment = _payment_of(account, reference=str(resource.get("custom_id", "")),
                              capture_id=str(resource.get("id", "")), order_id=str(related.get("order_id", "")))
        if payment is None:
            return "no such payment"
        if payment.status in SETTLED:
            return f"payment {payment.status}: left as it is"
        _set(payment, status=PaymentStatus.DENIED, capture_id=str(resource.get("id", "")))
        return "payment denied: no ticket"
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        payment = _payment_of(account, reference=str(resource.get("custom_id", "")),
                              capture_id=_up_capture(resource))
        if payment is None:
            return "no such payment"
        _set(payment, status=PaymentStatus.REFUNDED)
        ticket = payment.ticket
        if ticket is None or ticket.status in (GuestStatus.CANCELLED, GuestStatus.EXPIRED):
            return "payment refunded"
        cuts = guest.cancel_ticket(actor(payment.organisation), ticket)
        return f"payment refunded: ticket {ticket.serial} cancelled, {len(cuts)} session(s) cut"
    if event_type == "CHECKOUT.PAYMENT-APPROVAL.REVERSED":
        unit = (resource.get("purchase_units") or [{}])[0]
        payment = _payment_of(account, reference=str(unit.get("custom_id") or unit.get("reference_id") or ""),
                              order_id=str(resource.get("order_id", "")))
        if payment is None:
            return "no such payment"
        if payment.status in SETTLED:
            return f"payment {payment.status}: left as it is"
        _set(payment, status=PaymentStatus.REVERSED)
        return "approval reversed: no ticket"
    return f"{event_type}: nothing to do"
