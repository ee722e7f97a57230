"""One trail per ticket: what happened to a ticket (or every ticket of an order), in time order.

Rooms and connectors feed it through one small interface: `register_source(name, fn)` where
`fn(organisation, ticket_ids) -> Iterable[TimelineEvent]` (plain dicts with the same keys are
accepted too); they register in their AppConfig.ready(). Sales feeds the sale, prints, reprints,
cancellations and invalidations from the audit log the sales services already write in the same
transaction as the change (so the trail cannot disagree with what happened, and needs no second
table written on every hot path); access feeds the scans, jobs the partner job items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from passgate.orgs.models import AuditEntry, Organisation
from passgate.orgs.timezones import local_time

from .models import Order, Ticket


@dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    kind: str
    title: str
    actor: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None  # None: about the whole order (an e-mail of the order…)
    link: str = ""


Source = Callable[[Organisation, list[int]], Iterable["TimelineEvent | dict[str, Any]"]]
_SOURCES: dict[str, Source] = {}


def register_source(name: str, fn: Source) -> None:
    """Add (or replace, by name) a source of timeline events."""
    _SOURCES[name] = fn


def registered_sources() -> list[str]:
    return list(_SOURCES)


def admin_link(name: str, *args: Any) -> str:
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""


def _as_event(item: TimelineEvent | dict[str, Any]) -> TimelineEvent:
    if isinstance(item, TimelineEvent):
        return item
    return TimelineEvent(at=item["at"], kind=item["kind"], title=item["title"], actor=item.get("actor", ""),
                         detail=dict(item.get("detail") or {}), ticket_id=item.get("ticket_id"),
                         link=item.get("link", ""))


def collect(organisation: Organisation, ticket_ids: list[int]) -> list[TimelineEvent]:
    """Every source's events about these tickets, oldest first (stable: equal times keep the
    order in which the sources gave them, so a sale comes before its own print)."""
    events: list[TimelineEvent] = []
    seen: set[tuple] = set()
    for fn in _SOURCES.values():
        for item in fn(organisation, ticket_ids):
            event = _as_event(item)
            key = (event.at, event.kind, event.title, event.ticket_id)
            if key not in seen:  # order-wide events come once per ticket of the order
                seen.add(key)
                events.append(event)
    events.sort(key=lambda e: e.at)
    return events


def serialise(organisation: Organisation, events: list[TimelineEvent]) -> list[dict[str, Any]]:
    return [{"at": local_time(organisation, e.at), "kind": e.kind, "title": e.title, "actor": e.actor,
             "detail": e.detail, "ticket_id": e.ticket_id, "link": e.link} for e in events]


def ticket_timeline(organisation: Organisation, ticket: Ticket) -> list[dict[str, Any]]:
    """The trail of one ticket, times in the organisation's zone."""
    return serialise(organisation, collect(organisation, [ticket.pk]))


def order_timeline(organisation: Organisation, order: Order) -> list[dict[str, Any]]:
    """The trail of every ticket of an order (a "file"), times in the organisation's zone."""
    ids = list(Ticket.objects.filter(organisation=organisation, order=order).values_list("pk", flat=True))
    return serialise(organisation, collect(organisation, ids))


# ---------------------------------------------------------------- the sales room's own events

def _transition_title(action: str, before: dict, after: dict) -> str:
    if action == "reprint":
        return f"Reprinted: {before.get('barcode')} → {after.get('barcode')} (the old barcode is refused for ever)"
    if action == "print":
        return "Printed"
    return {"cancel": "Cancelled", "invalidate": "Invalidated"}.get(action, action.replace("_", " ").capitalize())


def sales_events(organisation: Organisation, ticket_ids: list[int]) -> Iterable[TimelineEvent]:
    tickets = list(Ticket.objects.filter(organisation=organisation, pk__in=ticket_ids)
                   .select_related("order__channel", "order__point_of_sale", "product", "performance", "tariff"))
    if not tickets:
        return
    for t in tickets:
        o = t.order
        where = f"{o.channel.code}" + (f" / {o.point_of_sale.code}" if o.point_of_sale_id else "")
        yield TimelineEvent(
            at=o.created_at, kind="sale", title=f"Sold in file {o.file_number} ({where})", actor=o.created_by,
            ticket_id=t.pk, link=admin_link("sales_order_change", o.pk),
            detail={"file_number": o.file_number, "channel": o.channel.code,
                    "point_of_sale": o.point_of_sale.code if o.point_of_sale_id else None,
                    "payment_mode": o.payment_mode, "product": t.product.code,
                    "performance": t.performance.code if t.performance_id else None, "tariff": t.tariff.code,
                    "price": str(t.price), "currency": t.currency})
    entries = AuditEntry.objects.filter(organisation=organisation, object_type="sales.ticket",
                                        object_id__in=[str(t.pk) for t in tickets]).order_by("at", "id")
    for e in entries:
        before, after = e.before or {}, e.after or {}
        detail = {"action": e.action, "status": after.get("status")}
        if e.action == "reprint":
            detail.update(old_barcode=before.get("barcode"), new_barcode=after.get("barcode"))
        if after.get("printed_by") and e.action in ("print", "reprint"):
            detail["point_of_sale_id"] = after.get("printed_by")
        yield TimelineEvent(at=e.at, kind=e.action, title=_transition_title(e.action, before, after),
                            actor=e.actor, detail=detail, ticket_id=int(e.object_id))
    # A whole file cancelled at once is audited on the order, with the barcodes it cancelled.
    by_barcode = {t.barcode: t.pk for t in tickets}
    order_cancels = AuditEntry.objects.filter(organisation=organisation, object_type="sales.order",
                                              action="cancel",
                                              object_id__in={str(t.order_id) for t in tickets}).order_by("at", "id")
    for e in order_cancels:
        for barcode in (e.after or {}).get("cancelled_tickets", []):
            if barcode in by_barcode:
                yield TimelineEvent(at=e.at, kind="cancel", title=f"Cancelled with its file {e.object_repr}",
                                    actor=e.actor, detail={"action": "cancel_order", "status": "CANCELLED"},
                                    ticket_id=by_barcode[barcode])


def email_events(organisation: Organisation, ticket_ids: list[int]) -> Iterable[TimelineEvent]:
    """E-mails of the tickets' orders (sales.OrderEmail, when the e-mail feature is installed)."""
    try:
        order_email = apps.get_model("sales", "OrderEmail")
    except LookupError:
        return
    orders = Ticket.objects.filter(organisation=organisation, pk__in=ticket_ids).values("order_id")
    for m in order_email.objects.filter(organisation=organisation, order_id__in=orders).order_by("requested_at"):
        at = m.sent_at or m.requested_at
        title = f"E-mail to {m.recipient}: {m.status}" + (f" ({m.error})" if m.error else "")
        yield TimelineEvent(at=at, kind="email", title=title, actor=str(m.requested_by or ""),
                            detail={"recipient": m.recipient, "status": m.status, "error": m.error or ""})

