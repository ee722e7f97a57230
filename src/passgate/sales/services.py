"""Sales services: contacts, selling (with contingents), and the ticket status
machine. Each service is atomic and writes the audit log; transitions are
conditional updates, so two clerks racing on one ticket cannot both win."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from passgate.catalog.models import (
    Category,
    ChannelType,
    Contingent,
    Performance,
    PointOfSale,
    Product,
    SalesChannel,
    Tariff,
)
from passgate.errors import Conflict, InvalidInput, NotFound
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    create_scoped,
    record_audit,
    snapshot,
    update_scoped,
)

from .barcodes import new_barcode
from .changes import next_seq
from .models import (
    Contact,
    Order,
    OrderStatus,
    PaymentMode,
    RetiredBarcode,
    Sequence,
    Ticket,
    TicketStatus,
)
from .signals import tickets_changed

MAX_TICKETS_PER_LINE = 100
ORDINARY_PAYMENT_MODES = frozenset(
    {PaymentMode.CASH, PaymentMode.CARD, PaymentMode.BANK_TRANSFER, PaymentMode.VOUCHER}
)

# The ticket status machine: operation → (statuses it may start from, status it ends in).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "print": (frozenset({TicketStatus.NOT_PRINTED}), TicketStatus.PRINTED),
    "reprint": (frozenset({TicketStatus.PRINTED}), TicketStatus.PRINTED),
    "cancel": (frozenset({TicketStatus.NOT_PRINTED, TicketStatus.PRINTED}), TicketStatus.CANCELLED),
    "invalidate": (frozenset({TicketStatus.NOT_PRINTED, TicketStatus.PRINTED}), TicketStatus.INVALIDATED),
}

PAST_PARTICIPLES = {"print": "printed", "reprint": "reprinted", "cancel": "cancelled", "invalidate": "invalidated"}


# ---------------------------------------------------------------- sequences

def next_number(organisation: Organisation, name: str) -> int:
    """Next value of a per-organisation counter; call inside a transaction."""
    Sequence.objects.get_or_create(organisation=organisation, name=name)
    seq = Sequence.objects.select_for_update().get(organisation=organisation, name=name)
    seq.last_value += 1
    seq.save(update_fields=["last_value"])
    return seq.last_value


# ---------------------------------------------------------------- contacts

def _check_payment_modes(modes: Any) -> list[str]:
    if not isinstance(modes, list | tuple):
        raise InvalidInput("payment modes must be a list", field="payment_modes",
                           expected="a list such as [\"CARD\", \"PENDING_ACCOUNT\"]", found=modes)
    unknown = [m for m in modes if m not in PaymentMode.values]
    if unknown:
        raise InvalidInput("unknown payment mode", field="payment_modes",
                           expected=", ".join(PaymentMode.values), found=", ".join(map(str, unknown)))
    return list(dict.fromkeys(modes))


def create_contact(actor: Actor, **fields: Any) -> Contact:
    actor.require(Permission.MANAGE_CONTACTS)
    fields["payment_modes"] = _check_payment_modes(fields.get("payment_modes") or [])
    with transaction.atomic():
        if not fields.get("number"):
            fields["number"] = f"C{next_number(actor.organisation, 'contact'):07d}"
        return create_scoped(actor, Contact, Permission.MANAGE_CONTACTS, **fields)


def update_contact(actor: Actor, contact: Contact, **fields: Any) -> Contact:
    if "payment_modes" in fields:
        fields["payment_modes"] = _check_payment_modes(fields["payment_modes"] or [])
    return update_scoped(actor, contact, Permission.MANAGE_CONTACTS, **fields)


# ---------------------------------------------------------------- selling

@dataclass
class SaleLine:
    product: Product
    tariff: Tariff
    performance: Performance | None = None
    category: Category | None = None
    seat: str = ""
    cultural_contact: Contact | None = None
    quantity: int = 1
    price: Decimal | None = None  # None = the tariff's price
    # Barcodes an external seller already printed, one per ticket; empty = passgate issues them.
    barcodes: list[str] = field(default_factory=list)
    # The tickets were already controlled (a partner's control sold afterwards): their control state.
    controlled_at: Any = None


@dataclass
class SaleRequest:
    channel: SalesChannel
    lines: list[SaleLine]
    buyer: Contact | None = None
    point_of_sale: PointOfSale | None = None
    payment_mode: str = PaymentMode.CARD
    external_reference: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # An external seller already sold these places: only the channel's contingent limits the sale
    # (Conflict quota_exhausted), never the performance's or the product's capacity.
    external: bool = False


def _validate_sale(actor: Actor, sale: SaleRequest) -> None:
    check_same_organisation(actor, {"channel": sale.channel, "buyer": sale.buyer,
                                    "point_of_sale": sale.point_of_sale})
    if sale.point_of_sale and sale.point_of_sale.channel_id != sale.channel.pk:
        raise InvalidInput("the point of sale belongs to another channel", field="point_of_sale",
                           expected=f"a point of sale of channel {sale.channel.code}", found=sale.point_of_sale.code)
    if sale.payment_mode not in PaymentMode.values:
        raise InvalidInput("unknown payment mode", field="payment_mode",
                           expected=", ".join(PaymentMode.values), found=sale.payment_mode)
    allowed = set(sale.buyer.payment_modes) if sale.buyer and sale.buyer.payment_modes else ORDINARY_PAYMENT_MODES
    if sale.channel.type == ChannelType.EXTERNAL_STX_FILE:
        allowed = set(allowed) | {PaymentMode.EXTERNAL}
    if sale.payment_mode not in allowed:
        who = f"contact {sale.buyer.number}" if sale.buyer else "an anonymous buyer"
        raise InvalidInput(f"{who} may not pay by {sale.payment_mode}", field="payment_mode",
                           expected=", ".join(sorted(allowed)), found=sale.payment_mode)
    if not sale.lines:
        raise InvalidInput("an order needs at least one line", field="lines", expected="1 or more lines", found=0)
    for i, line in enumerate(sale.lines):
        where = f"lines[{i}]"
        check_same_organisation(actor, {f"{where}.product": line.product, f"{where}.tariff": line.tariff,
                                        f"{where}.performance": line.performance,
                                        f"{where}.category": line.category,
                                        f"{where}.cultural_contact": line.cultural_contact})
        if not 1 <= line.quantity <= MAX_TICKETS_PER_LINE:
            raise InvalidInput("quantity out of range", field=f"{where}.quantity",
                               expected=f"1 to {MAX_TICKETS_PER_LINE}", found=line.quantity)
        if line.tariff.product_id != line.product.pk:
            raise InvalidInput("the tariff belongs to another product", field=f"{where}.tariff",
                               expected=f"a tariff of product {line.product.code}", found=line.tariff.code)
        if line.category and line.category.product_id != line.product.pk:
            raise InvalidInput("the category belongs to another product", field=f"{where}.category",
                               expected=f"a category of product {line.product.code}", found=line.category.code)
        if line.product.has_performances and line.performance is None:
            raise InvalidInput(f"a {line.product.family} ticket needs a performance",
                               field=f"{where}.performance", expected="a performance of the product", found=None)
        if not line.product.has_performances and line.performance is not None:
            raise InvalidInput(f"a {line.product.family} product has no performances",
                               field=f"{where}.performance", expected=None, found=line.performance.code)
        if line.performance and line.performance.product_id != line.product.pk:
            raise InvalidInput("the performance belongs to another product", field=f"{where}.performance",
                               expected=f"a performance of product {line.product.code}",
                               found=line.performance.code)
        if line.price is not None and line.price < 0:
            raise InvalidInput("a price cannot be negative", field=f"{where}.price", expected=">= 0",
                               found=line.price)


def _take_places(model: type, pk: int, capacity_field: str, quantity: int) -> bool:
    """Conditional increment, decided by the database (race-free, and blind to stale
    in-memory copies): succeeds if the capacity is unlimited or still has room."""
    room = Q(**{f"{capacity_field}__isnull": True}) | Q(sold_count__lte=F(capacity_field) - quantity)
    return bool(model.objects.filter(room, pk=pk).update(sold_count=F("sold_count") + quantity))


def _contingent_for(channel: SalesChannel, line: SaleLine) -> Contingent | None:
    candidates = Contingent.objects.filter(channel=channel, product=line.product)
    if line.performance is not None:
        specific = candidates.filter(performance=line.performance).first()
        if specific:
            return specific
    return candidates.filter(performance__isnull=True).first()


def remaining_places(channel: SalesChannel, product: Product,
                     performance: Performance | None = None) -> list[dict[str, Any]]:
    """What a sale of `product` (at `performance`) on `channel` may still take, limit by limit,
    read the way _reserve takes it: the channel's contingent, the performance, the product.
    remaining None = unlimited."""
    rows: list[dict[str, Any]] = []
    contingent = _contingent_for(channel, SaleLine(product=product, tariff=None, performance=performance))
    if contingent is not None:
        contingent.refresh_from_db(fields=["quota", "sold_count"])
        rows.append({"limit": "contingent", "code": contingent.code, "name": contingent.name,
                     "capacity": contingent.quota, "sold": contingent.sold_count,
                     "remaining": max(contingent.quota - contingent.sold_count, 0)})
    for kind, row in (("performance", performance), ("product", product)):
        if row is None:
            continue
        row.refresh_from_db(fields=["capacity", "sold_count"])
        rows.append({"limit": kind, "code": row.code, "name": row.name, "capacity": row.capacity,
                     "sold": row.sold_count,
                     "remaining": None if row.capacity is None else max(row.capacity - row.sold_count, 0)})
    return rows


def _reserve(channel: SalesChannel, line: SaleLine, where: str, external: bool = False) -> Contingent | None:
    """Consume capacity for a line: contingent of the channel, performance, product. An external
    sale is limited by its contingent only: the places are counted, never refused beyond it."""
    contingent = _contingent_for(channel, line)
    if contingent and not _take_places(Contingent, contingent.pk, "quota", line.quantity):
        contingent.refresh_from_db(fields=["quota", "sold_count"])
        left = contingent.quota - contingent.sold_count
        if external:
            raise Conflict(f"the quota of contingent {contingent.code} is exhausted ({left} left); "
                           f"raise it, or retry once places are given back", code="quota_exhausted",
                           field=f"{where}.quantity", expected=f"at most {left}", found=line.quantity)
        raise Conflict(f"contingent {contingent.code} has not enough places left", code="sold_out",
                       field=f"{where}.quantity", expected=f"at most {left}", found=line.quantity)
    if external:
        if line.performance is not None:
            Performance.objects.filter(pk=line.performance.pk).update(sold_count=F("sold_count") + line.quantity)
        Product.objects.filter(pk=line.product.pk).update(sold_count=F("sold_count") + line.quantity)
        return contingent
    perf = line.performance
    if perf and not _take_places(Performance, perf.pk, "capacity", line.quantity):
        raise Conflict(f"performance {perf.code} is sold out", code="sold_out", field=f"{where}.quantity",
                       expected="fewer places", found=line.quantity)
    if not _take_places(Product, line.product.pk, "capacity", line.quantity):
        raise Conflict(f"product {line.product.code} is sold out", code="sold_out", field=f"{where}.quantity",
                       expected="fewer places", found=line.quantity)
    return contingent


def _release(tickets: list[Ticket]) -> None:
    """Give back the places of cancelled tickets."""
    for ticket in tickets:
        if ticket.contingent_id:
            Contingent.objects.filter(pk=ticket.contingent_id, sold_count__gt=0).update(sold_count=F("sold_count") - 1)
        if ticket.performance_id:
            Performance.objects.filter(pk=ticket.performance_id, sold_count__gt=0).update(
                sold_count=F("sold_count") - 1)
        Product.objects.filter(pk=ticket.product_id, sold_count__gt=0).update(sold_count=F("sold_count") - 1)


def sale_summary(sale: SaleRequest) -> dict[str, Any]:
    """What a sale asks for, in the API's names (ids), canonical: equal requests, equal summaries."""
    def pk(obj: Any) -> int | None:
        return None if obj is None else obj.pk

    return {
        "channel_id": sale.channel.pk, "buyer_id": pk(sale.buyer), "point_of_sale_id": pk(sale.point_of_sale),
        "payment_mode": str(sale.payment_mode),
        "lines": [{"product_id": pk(line.product), "tariff_id": pk(line.tariff),
                   "performance_id": pk(line.performance), "category_id": pk(line.category), "seat": line.seat or "",
                   "cultural_contact_id": pk(line.cultural_contact), "quantity": line.quantity,
                   "price": None if line.price is None else str(line.price),
                   **({"barcodes": list(line.barcodes)} if line.barcodes else {})} for line in sale.lines],
    }


def summary_digest(summary: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def summary_differences(first: Any, then: Any, path: str = "") -> list[str]:
    """Where two summaries differ: ["lines[0].quantity: 2 ≠ 3", …] (first request ≠ this one)."""
    if isinstance(first, dict) and isinstance(then, dict):
        out: list[str] = []
        for key in sorted(set(first) | set(then)):
            out += summary_differences(first.get(key), then.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(first, list) and isinstance(then, list):
        if len(first) != len(then):
            return [f"{path}: {len(first)} lines ≠ {len(then)} lines"]
        return [d for i, (a, b) in enumerate(zip(first, then, strict=True))
                for d in summary_differences(a, b, f"{path}[{i}]")]
    if first != then:
        return [f"{path}: {'none' if first is None else first} ≠ {'none' if then is None else then}"]
    return []


def _replay(order: Order, summary: dict[str, Any]) -> Order:
    """A retry of a sale already made: the same order if it asks for the same, else 409."""
    if order.request_digest and order.request_digest != summary_digest(summary):
        differences = summary_differences(order.request_summary, summary) or ["the request"]
        raise Conflict(f"external reference {order.external_reference!r} was already used for file "
                       f"{order.file_number} with a different request: {'; '.join(differences[:5])}",
                       code="idempotency_conflict", field="external_reference",
                       expected=f"the same request as file {order.file_number}, or a new reference",
                       found="; ".join(differences[:5]))
    return order


def _by_reference(actor: Actor, sale: SaleRequest) -> Order | None:
    return Order.objects.filter(organisation=actor.organisation, channel=sale.channel,
                                external_reference=sale.external_reference).first()


def sell_once(actor: Actor, sale: SaleRequest) -> tuple[Order, bool]:
    """Create an order (file) and its tickets: (order, True). Idempotent by external_reference:
    a retry of the same sale returns the order made the first time, (order, False); another
    sale under the same reference is a Conflict `idempotency_conflict`. Decided here, after
    the database's unique constraint, so two racing requests cannot both win."""
    actor.require(Permission.SELL)
    _validate_sale(actor, sale)
    summary = sale_summary(sale)
    if sale.external_reference:
        existing = _by_reference(actor, sale)
        if existing:
            return _replay(existing, summary), False
    try:
        with transaction.atomic():
            return _sell_in_transaction(actor, sale, summary), True
    except IntegrityError:
        # A concurrent request with the same external reference won the race.
        if sale.external_reference:
            existing = _by_reference(actor, sale)
            if existing:
                return _replay(existing, summary), False
        raise


def sell(actor: Actor, sale: SaleRequest) -> Order:
    """sell_once, for callers that do not care whether the order is new."""
    return sell_once(actor, sale)[0]


def _sell_in_transaction(actor: Actor, sale: SaleRequest, summary: dict[str, Any]) -> Order:
    org = actor.organisation
    now = timezone.now()
    order = Order.objects.create(
        organisation=org,
        file_number=f"{next_number(org, 'file'):08d}",
        buyer=sale.buyer,
        channel=sale.channel,
        point_of_sale=sale.point_of_sale,
        payment_mode=sale.payment_mode,
        external_reference=sale.external_reference or None,
        request_digest=summary_digest(summary) if sale.external_reference else "",
        request_summary=summary if sale.external_reference else {},
        currency=org.currency,
        created_by=actor.label[:200],
    )
    tickets: list[Ticket] = []
    for i, line in enumerate(sale.lines):
        contingent = _reserve(sale.channel, line, f"lines[{i}]", sale.external)
        price = line.tariff.price if line.price is None else line.price
        controlled = ({"control_count": 1, "first_controlled_at": line.controlled_at,
                       "last_controlled_at": line.controlled_at, "inside": True} if line.controlled_at else {})
        for k in range(line.quantity):
            barcode = line.barcodes[k] if line.barcodes else new_barcode(org, line.product, line.performance)
            tickets.append(Ticket(
                organisation=org, order=order, product=line.product, performance=line.performance,
                tariff=line.tariff, category=line.category, seat=line.seat, contingent=contingent,
                price=price, currency=org.currency, barcode=barcode,
                cultural_contact=line.cultural_contact, status=TicketStatus.NOT_PRINTED, status_changed_at=now,
                **controlled,
            ))
    # the change number last: the counter's lock is held until commit (see sales.changes)
    seq = next_seq(org.pk)
    for ticket in tickets:
        ticket.change_seq = seq
    Ticket.objects.bulk_create(tickets)
    if not all(t.pk for t in tickets):  # backends without RETURNING
        tickets = list(order.tickets.order_by("id"))
    order.total = sum((t.price for t in tickets), Decimal("0"))
    order.save(update_fields=["total"])
    after = snapshot(order)
    after["tickets"] = [t.barcode for t in tickets]
    record_audit(actor, "sell", order, None, after)
    tickets_changed.send(Order, organisation=org, ticket_ids=[t.pk for t in tickets], change="sold",
                         retired_barcodes=[], seq=seq)
    return order


# ---------------------------------------------------------------- the status machine

def illegal_transition(operation: str, ticket: Ticket) -> Conflict:
    allowed, _ = TRANSITIONS[operation]
    return Conflict(f"a {ticket.status} ticket cannot be {PAST_PARTICIPLES[operation]}",
                    code="illegal_transition", field="status",
                    expected=" or ".join(sorted(allowed)), found=ticket.status)


def _transition(actor: Actor, ticket: Ticket, operation: str, **changes: Any) -> Ticket:
    """Move one ticket through the machine with a conditional update (race-free)."""
    if ticket.organisation_id != actor.organisation.pk:
        raise NotFound("no such ticket in this organisation", field="ticket", found=ticket.pk)
    allowed, target = TRANSITIONS[operation]
    now = timezone.now()
    before = snapshot(ticket)
    updates = {"status": target, "updated_at": now, "change_seq": next_seq(actor.organisation.pk), **changes}
    if target != before["status"]:
        updates["status_changed_at"] = now
    updated = Ticket.objects.filter(pk=ticket.pk, status__in=allowed).update(**updates)
    if not updated:
        ticket.refresh_from_db()
        raise illegal_transition(operation, ticket)
    ticket.refresh_from_db()
    record_audit(actor, operation, ticket, before, snapshot(ticket))
    return ticket


def print_ticket(actor: Actor, ticket: Ticket, point_of_sale: PointOfSale | None = None) -> Ticket:
    actor.require(Permission.SELL)
    check_same_organisation(actor, {"point_of_sale": point_of_sale})
    with transaction.atomic():
        ticket = _transition(actor, ticket, "print", printed_at=timezone.now(), printed_by=point_of_sale)
        tickets_changed.send(Ticket, organisation=actor.organisation, ticket_ids=[ticket.pk], change="printed",
                             retired_barcodes=[], seq=ticket.change_seq)
    return ticket


def print_externally(actor: Actor, ticket_ids: list[int], point_of_sale: PointOfSale) -> list[int]:
    """External printing (a ticket injected into a wallet counts as printed, seed 002): NOT_PRINTED →
    PRINTED by the point of sale configured for the partner, for a batch at once under one change
    number. Returns the ids moved; a ticket no longer NOT_PRINTED (cancelled meanwhile) is left
    as it is. Call it in the transaction that records the partner's answer."""
    actor.require(Permission.SELL)
    check_same_organisation(actor, {"point_of_sale": point_of_sale})
    allowed, target = TRANSITIONS["print"]
    with transaction.atomic():
        moved = list(Ticket.objects.select_for_update().filter(
            organisation=actor.organisation, pk__in=ticket_ids, status__in=allowed)
            .order_by("pk").values_list("pk", flat=True))
        if not moved:
            return []
        now = timezone.now()
        seq = next_seq(actor.organisation.pk)
        Ticket.objects.filter(pk__in=moved, status__in=allowed).update(
            status=target, status_changed_at=now, printed_at=now, printed_by=point_of_sale, updated_at=now,
            change_seq=seq)
        record_audit(actor, "print_externally", point_of_sale, None,
                     {"point_of_sale": point_of_sale.code, "channel": point_of_sale.channel.code,
                      "tickets": moved})
        tickets_changed.send(Ticket, organisation=actor.organisation, ticket_ids=moved, change="printed",
                             retired_barcodes=[], seq=seq)
    return moved


def reprint_ticket(actor: Actor, ticket: Ticket, point_of_sale: PointOfSale | None = None) -> Ticket:
    """New barcode; the old one is retired (invalid for ever, never reissued)."""
    actor.require(Permission.SELL)
    check_same_organisation(actor, {"point_of_sale": point_of_sale})
    with transaction.atomic():
        old_barcode = ticket.barcode
        now = timezone.now()
        barcode = new_barcode(actor.organisation, ticket.product, ticket.performance)
        ticket = _transition(actor, ticket, "reprint", barcode=barcode, printed_at=now,
                             printed_by=point_of_sale, reprint_count=F("reprint_count") + 1)
        RetiredBarcode.objects.create(organisation=actor.organisation, ticket=ticket, barcode=old_barcode,
                                      retired_at=now, reason="REPRINT")
        tickets_changed.send(Ticket, organisation=actor.organisation, ticket_ids=[ticket.pk],
                             change="reprinted", retired_barcodes=[old_barcode], seq=ticket.change_seq)
    return ticket


def invalidate_ticket(actor: Actor, ticket: Ticket) -> Ticket:
    actor.require(Permission.SELL)
    with transaction.atomic():
        ticket = _transition(actor, ticket, "invalidate", invalidated_at=timezone.now())
        _release([ticket])
        tickets_changed.send(Ticket, organisation=actor.organisation, ticket_ids=[ticket.pk],
                             change="invalidated", retired_barcodes=[], seq=ticket.change_seq)
    return ticket


def cancel_ticket(actor: Actor, ticket: Ticket) -> Ticket:
    actor.require(Permission.SELL)
    with transaction.atomic():
        ticket = _transition(actor, ticket, "cancel", cancelled_at=timezone.now())
        _release([ticket])
        tickets_changed.send(Ticket, organisation=actor.organisation, ticket_ids=[ticket.pk], change="cancelled",
                             retired_barcodes=[], seq=ticket.change_seq)
        order = ticket.order
        if not order.tickets.exclude(status__in=[TicketStatus.CANCELLED, TicketStatus.INVALIDATED]).exists():
            Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED, cancelled_at=timezone.now())
    return ticket


def cancel_order(actor: Actor, order: Order) -> Order:
    """Cancel every live ticket of the file (already invalidated ones stay invalidated)."""
    actor.require(Permission.SELL)
    if order.organisation_id != actor.organisation.pk:
        raise NotFound("no such order in this organisation", field="order", found=order.pk)
    with transaction.atomic():
        before = snapshot(order)
        updated = Order.objects.filter(pk=order.pk, status=OrderStatus.CONFIRMED).update(
            status=OrderStatus.CANCELLED, cancelled_at=timezone.now())
        if not updated:
            raise Conflict("this file is already cancelled", code="illegal_transition", field="status",
                           expected=OrderStatus.CONFIRMED, found=OrderStatus.CANCELLED)
        live = list(order.tickets.select_for_update().filter(
            status__in=TRANSITIONS["cancel"][0]))
        now = timezone.now()
        seq = next_seq(actor.organisation.pk)
        Ticket.objects.filter(pk__in=[t.pk for t in live], status__in=TRANSITIONS["cancel"][0]).update(
            status=TicketStatus.CANCELLED, status_changed_at=now, cancelled_at=now, updated_at=now,
            change_seq=seq)
        _release(live)
        order.refresh_from_db()
        after = snapshot(order)
        after["cancelled_tickets"] = [t.barcode for t in live]
        record_audit(actor, "cancel", order, before, after)
        tickets_changed.send(Order, organisation=actor.organisation, ticket_ids=[t.pk for t in live],
                             change="cancelled", retired_barcodes=[], seq=seq)
    return order


def find_ticket_by_barcode(organisation: Organisation, barcode: str) -> Ticket | None:
    return Ticket.objects.filter(organisation=organisation, barcode=barcode).first()
