"""The five TIXnGO functions (seeds 002, 003), each a FunctionSpec run by the jobs machinery:

- TIXNGO_TICKET_INJECTION ("tickets external printing"): NOT_PRINTED tickets of families event,
  match, open pass and service → TIXnGO; each one injected becomes PRINTED by the configured point
  of sale, wallet INJECTED, marker written, all in one transaction. A reprinted ticket (new barcode)
  has its old wallet ticket deleted, then, once feedback confirms DELETED, goes again to its last
  known holder.
- TIXNGO_PUSH_CANCELLED: cancelled and invalidated tickets since the schedule's position → delete.
- TIXNGO_PUSH_CONTROLLED: tickets controlled at a door since the position → CONTROLLED, once.
- TIXNGO_FEEDBACK: the partner's status log from the stored pagination key → wallet status, owner,
  holder and the log of each ticket; never a ticket status change.
- TIXNGO_PRIVILEGES: membership and season cards, with their privilege definition created once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Literal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from passgate.catalog.models import Family
from passgate.errors import InvalidInput
from passgate.jobs.models import PendingRetry
from passgate.jobs.registry import FunctionSpec, register_function
from passgate.jobs.runner import REMAINING_COUNT_LIMIT, ItemRecord, RunContext
from passgate.sales import services as sales
from passgate.sales.models import Ticket, TicketStatus

from .client import MAX_LOG_LIMIT, ItemResult, LogEntry, TixngoClient
from .interface import printing_point_of_sale
from .models import PrivilegeDefinition, WalletLogEntry, WalletStatus, WalletTicket
from .payload import (
    HOLDER_FIELDS,
    Holder,
    card_fields,
    event_fields,
    event_id,
    privilege_fields,
    ticket_fields,
)
from .templates import TicketTemplates

TICKET_FAMILIES = (Family.EVENT, Family.MATCH, Family.OPEN_PASS, Family.SERVICE)
CARD_FAMILIES = (Family.MEMBERSHIP, Family.SEASON_TICKET)
GONE = (WalletStatus.DELETION_PENDING, WalletStatus.DELETED)
PAGINATION_KEY = "pagination_key"
CONTROL_POSITION = "control_position"
# Controls committed late (a door's offline batch) are looked for this far behind the position;
# the markers keep them from being pushed twice.
CONTROL_LOOKBACK = dt.timedelta(minutes=10)
PAGINATION_WARNING = ("Do not touch this value if you do not know what you are doing (seed 002): feedback "
                      "resumes reading the TIXnGO status log exactly here.")

MandatoryField = Literal["FIRSTNAME", "LASTNAME", "BIRTHDATE", "ID_NUMBER", "COUNTRY_CODE", "BIRTH_REGION",
                         "BIRTH_PLACE"]


# ---------------------------------------------------------------- parameters

class InjectionParams(BaseModel):
    """Filters are cumulative (AND); a file number excludes every other filter (seed 002)."""

    model_config = ConfigDict(extra="forbid")

    products: list[str] = Field(default_factory=list, description="product codes")
    performances: list[str] = Field(default_factory=list, description="performance codes")
    tariffCodes: list[str] = Field(default_factory=list)
    categoryCodes: list[str] = Field(default_factory=list)
    fileNumber: str | None = Field(default=None, min_length=1, max_length=20)
    mandatoryHolderFields: list[MandatoryField] = Field(default_factory=list)

    @field_validator("mandatoryHolderFields", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # the seed's form: "FIRSTNAME,LASTNAME"
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _file_number_alone(self) -> InjectionParams:
        if self.fileNumber:
            others = [name for name in ("products", "performances", "tariffCodes", "categoryCodes")
                      if getattr(self, name)]
            if others:
                raise ValueError(f"fileNumber excludes every other filter: remove fileNumber or "
                                 f"{', '.join(others)}")
        return self


class PushParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedbackParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- shared

def _client(ctx: RunContext) -> TixngoClient:
    return ctx.http(TixngoClient, api_key=ctx.secret)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _filtered(qs, params: InjectionParams):
    if params.fileNumber:
        return qs.filter(order__file_number=params.fileNumber)
    if params.products:
        qs = qs.filter(product__code__in=params.products)
    if params.performances:
        qs = qs.filter(performance__code__in=params.performances)
    if params.tariffCodes:
        qs = qs.filter(tariff__code__in=params.tariffCodes)
    if params.categoryCodes:
        qs = qs.filter(category__code__in=params.categoryCodes)
    return qs


def holder_for(ticket: Ticket) -> Holder:
    """Who the ticket goes to: its last known holder in the wallet (a reprint after a transfer), else
    the cultural contact, falling back to the buyer (seed 002)."""
    wallet = getattr(ticket, "wallet", None) if _has_wallet(ticket) else None
    if wallet is not None and (wallet.holder_first_name or wallet.holder_last_name):
        return Holder.of_wallet(wallet.holder_first_name, wallet.holder_last_name, wallet.holder_fields)
    return Holder.of_contact(ticket.cultural_contact or ticket.order.buyer)


def _has_wallet(ticket: Ticket) -> bool:
    try:
        ticket.wallet  # noqa: B018 - the reverse one-to-one raises when absent
    except WalletTicket.DoesNotExist:
        return False
    return True


def _holder_columns(holder: Holder) -> dict[str, Any]:
    fields = {k: v for k, v in holder.spectator_details().items() if k not in ("firstName", "lastName")}
    return {"holder_first_name": holder.first_name[:100], "holder_last_name": holder.last_name[:100],
            "holder_fields": fields}


def _mark_injected(ctx: RunContext, injected: list[tuple[Ticket, Holder]], now: dt.datetime) -> None:
    """Wallet rows INJECTED for these tickets (called inside the recording transaction)."""
    # In bulk: one query per call, not per ticket (update_or_create per ticket held injection to ~100/s).
    rows = [WalletTicket(ticket=ticket, organisation=ctx.organisation, wallet_status=WalletStatus.INJECTED,
                         owner_email=holder.email[:254], injected_at=now, updated_at=now, last_error="",
                         **_holder_columns(holder)) for ticket, holder in injected]
    existing = dict(WalletTicket.objects.filter(ticket__in=[r.ticket_id for r in rows]).values_list("ticket_id", "pk"))
    for row in rows:
        row.pk = existing.get(row.ticket_id)
    known = [r for r in rows if r.pk is not None]  # a re-injected (reprinted) ticket
    WalletTicket.objects.bulk_create([r for r in rows if r.pk is None])
    WalletTicket.objects.bulk_update(known, [
        "wallet_status", "owner_email", "injected_at", "updated_at", "last_error", "holder_first_name",
        "holder_last_name", "holder_fields"])


def _set_wallet(ctx: RunContext, ticket: Ticket, status: str, error: str = "") -> None:
    WalletTicket.objects.filter(organisation=ctx.organisation, ticket=ticket).update(
        wallet_status=status, updated_at=timezone.now(), last_error=error)


def _results_by_id(results: list[ItemResult]) -> dict[str, ItemResult]:
    return {r.id: r for r in results}


def _summary(ctx: RunContext, what: str) -> None:
    c = ctx.counts
    text = f"{c['done']} {what}, {c['failed']} refused by TIXnGO, {c['skipped']} skipped"
    if ctx.remaining:
        text += f"; {ctx.remaining} left for the next run"
    ctx.summary = text


def _select_in_id_order(ctx: RunContext, qs, check) -> tuple[list[tuple[Ticket, Holder]], list[ItemRecord]]:
    """Unsent tickets of `qs` in id order until batch_size are ready to send; `check(ticket, holder)`
    returns why a ticket is skipped (None: send it). Skipped ones are reported, not counted."""
    batch = ctx.batch_size or None
    ready: list[tuple[Ticket, Holder]] = []
    skipped: list[ItemRecord] = []
    unsent = (ctx.unprocessed(qs, sent_key=("barcode",))
              .select_related("order__buyer", "cultural_contact", "product", "performance", "category", "wallet")
              .order_by("pk"))
    after = 0
    page = max(100, batch or 1000)
    while batch is None or len(ready) < batch:
        tickets = list(unsent.filter(pk__gt=after)[:page])
        if not tickets:
            break
        for ticket in tickets:
            after = ticket.pk
            holder = holder_for(ticket)
            reason = check(ticket, holder)
            if reason:
                skipped.append(ItemRecord("SKIPPED", ticket, partner_code="NOT_SENT", message=reason))
            else:
                ready.append((ticket, holder))
                if batch is not None and len(ready) >= batch:
                    break
    ctx.remaining = unsent.filter(pk__gt=after)[:REMAINING_COUNT_LIMIT].count() if ready or skipped else 0
    ctx.select(len(ready) + len(skipped))
    return ready, skipped


def templates_of(ctx: RunContext) -> TicketTemplates:
    """The operator's templates (a TIXNGO_TEMPLATE interface), compiled once for the run."""
    return TicketTemplates(getattr(ctx.interface_params, "templates", None))


def _mandatory_check(params: InjectionParams, templates: TicketTemplates | None = None):
    def check(ticket: Ticket, holder: Holder) -> str | None:
        missing = holder.missing(list(params.mandatoryHolderFields))
        if missing:
            return f"missing mandatory holder fields: {', '.join(missing)}"
        if templates:
            try:
                ticket_fields(ticket, holder, templates)
            except InvalidInput as exc:
                return exc.message
        return None
    return check


# ---------------------------------------------------------------- ticket injection

def inject_tickets(ctx: RunContext) -> None:
    params: InjectionParams = ctx.params
    point_of_sale = printing_point_of_sale(ctx.organisation, ctx.interface.parameters)
    qs = Ticket.objects.filter(organisation=ctx.organisation, product__family__in=TICKET_FAMILIES).filter(
        Q(status=TicketStatus.NOT_PRINTED) | Q(status=TicketStatus.PRINTED, wallet__isnull=False))
    templates = templates_of(ctx)
    ready, skipped = _select_in_id_order(ctx, _filtered(qs, params), _mandatory_check(params, templates))
    ctx.record(skipped)
    size = ctx.interface_params.ticketIterationSize
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", t, partner_code="SIMULATION",
                              message=f"simulation: would send {ticket_fields(t, h, templates)}") for t, h in ready)
        ctx.summary = (f"simulation: {len(ready)} tickets would be sent in {-(-len(ready) // size)} calls, "
                       f"{len(skipped)} skipped; nothing sent")
        return
    with _client(ctx) as client:
        # a reprinted ticket (PRINTED, new barcode): its old wallet ticket goes first
        reprints = [(t, h) for t, h in ready if t.status == TicketStatus.PRINTED]
        to_send = [(t, h) for t, h in ready if t.status == TicketStatus.NOT_PRINTED
                   or t.wallet.wallet_status == WalletStatus.DELETED]
        _retire_reprinted(ctx, client, [(t, h) for t, h in reprints if t.wallet.wallet_status != WalletStatus.DELETED],
                          size)
        events = {}
        for ticket, _holder in to_send:
            events.setdefault(event_id(ticket), ticket)
        for eid, ticket in events.items():
            client.put_event(eid, event_fields(ticket, templates))
        for chunk in _chunks(to_send, size):
            results = _results_by_id(client.inject_tickets([ticket_fields(t, h, templates) for t, h in chunk]))
            _record_injection(ctx, chunk, results, point_of_sale)
    _summary(ctx, "tickets injected")


def _retire_reprinted(ctx: RunContext, client: TixngoClient, reprints: list[tuple[Ticket, Holder]],
                      size: int) -> None:
    """A reprint's old barcode must leave the wallet before the ticket goes in again: ask for its
    deletion (the next runs re-inject it once feedback confirms DELETED)."""
    waiting = [(t, h) for t, h in reprints if t.wallet.wallet_status == WalletStatus.DELETION_PENDING]
    ctx.record(ItemRecord("SKIPPED", t, partner_code="DELETION_PENDING",
                          message="reprinted: waiting for TIXnGO to confirm the deletion of the previous barcode "
                                  "(feedback), then re-injected to its last holder") for t, _ in waiting)
    to_delete = [t for t, _ in reprints if t.wallet.wallet_status != WalletStatus.DELETION_PENDING]
    _delete_from_wallet(ctx, client, to_delete, size, lambda t, r: ItemRecord(
        "SKIPPED", t, partner_code=r.status,
        message="reprinted: the previous barcode's deletion was asked; re-injected to its last holder once "
                "feedback confirms it"))


def _delete_from_wallet(ctx: RunContext, client: TixngoClient, tickets: list[Ticket], size: int,
                        done: Callable[[Ticket, ItemResult], ItemRecord]) -> None:
    """Ask TIXnGO to delete these tickets, `size` per call; each call's outcome in one transaction:
    the wallet status it answered, and `done(ticket, result)` as the item (or FAILED with its error)."""
    for chunk in _chunks(tickets, size):
        results = _results_by_id(client.delete_tickets([str(t.pk) for t in chunk]))
        records = []
        with transaction.atomic():
            for t in chunk:
                r = results[str(t.pk)]
                if r.ok:
                    _set_wallet(ctx, t, r.status)
                    records.append(done(t, r))
                else:
                    _set_wallet(ctx, t, t.wallet.wallet_status, r.error)
                    records.append(ItemRecord("FAILED", t, partner_code=r.status, message=r.error))
            ctx.record(records)


def _record_injection(ctx: RunContext, chunk: list[tuple[Ticket, Holder]], results: dict[str, ItemResult],
                      point_of_sale) -> None:
    """One call's outcome, in one transaction: PRINTED by the point of sale, wallet INJECTED, markers."""
    records, injected = [], []
    for ticket, holder in chunk:
        r = results[str(ticket.pk)]
        if r.ok:  # INJECTED, or ALREADY_INJECTED: a rerun after a kill, the partner has it once
            injected.append((ticket, holder))
            records.append(ItemRecord("DONE", ticket, partner_code=r.status, mark_processed=True,
                                      message=f"to {holder.first_name} {holder.last_name} <{holder.email}>"))
        else:
            records.append(ItemRecord("FAILED", ticket, partner_code=r.status, message=r.error))
    now = timezone.now()
    with transaction.atomic():
        sales.print_externally(ctx.actor, [t.pk for t, _ in injected if t.status == TicketStatus.NOT_PRINTED],
                               point_of_sale)
        _mark_injected(ctx, injected, now)
        ctx.record(records)


# ---------------------------------------------------------------- push cancelled

def push_cancelled(ctx: RunContext) -> None:
    qs = (Ticket.objects.filter(status__in=[TicketStatus.CANCELLED, TicketStatus.INVALIDATED], wallet__isnull=False)
          .exclude(wallet__wallet_status__in=GONE).select_related("wallet"))
    selected = ctx.changed_tickets(qs, sent_key=("status",))
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", t, partner_code="SIMULATION", message="simulation: would delete")
                   for t in selected)
        ctx.summary = f"simulation: {len(selected)} tickets would be deleted from the wallet; nothing sent"
        return
    with _client(ctx) as client:
        _delete_from_wallet(ctx, client, selected, ctx.interface_params.ticketIterationSize, lambda t, r: ItemRecord(
            "DONE", t, partner_code=r.status, mark_processed=True, message=f"{t.status.lower()}: deletion asked"))
    _summary(ctx, "tickets deleted")


# ---------------------------------------------------------------- push controlled

def push_controlled(ctx: RunContext) -> None:
    """Selected on control time (a control does not touch updated_at nor change_seq), from the
    position kept in the schedule's state, or from "date from" once; markers push each ticket once."""
    if ctx.execution.date_from_used and ctx.since is not None:
        window = Q(last_controlled_at__gte=ctx.since)
        keep_position = False
    else:
        position = ctx.state.get(CONTROL_POSITION)
        window = Q(last_controlled_at__isnull=False)
        if position:
            window &= Q(last_controlled_at__gte=dt.datetime.fromisoformat(position["at"]) - CONTROL_LOOKBACK)
        keep_position = True
    retries = PendingRetry.objects.filter(schedule=ctx.schedule).values("ticket_id")
    qs = (Ticket.objects.filter(organisation=ctx.organisation, status=TicketStatus.PRINTED,
                                first_controlled_at__isnull=False, wallet__isnull=False)
          .exclude(wallet__wallet_status__in=(*GONE, WalletStatus.CONTROLLED))
          .filter(window | Q(pk__in=retries)))
    batch = ctx.batch_size or None
    unsent = ctx.unprocessed(qs, sent_key=("first_controlled_at",)).order_by("last_controlled_at", "pk")
    selected = list(unsent[:batch] if batch else unsent)
    ctx.remaining = max(0, unsent[:REMAINING_COUNT_LIMIT].count() - len(selected)) if batch else 0
    ctx.select(len(selected))
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", t, partner_code="SIMULATION",
                              message=f"simulation: would push CONTROLLED at {t.first_controlled_at.isoformat()}")
                   for t in selected)
        ctx.summary = f"simulation: {len(selected)} controlled tickets would be pushed; nothing sent"
        return
    with _client(ctx) as client:
        for chunk in _chunks(selected, ctx.interface_params.ticketIterationSize):
            results = _results_by_id(client.control_tickets([(str(t.pk), t.first_controlled_at) for t in chunk]))
            records = []
            with transaction.atomic():
                for t in chunk:
                    r = results[str(t.pk)]
                    if r.ok:
                        _set_wallet(ctx, t, WalletStatus.CONTROLLED)
                        records.append(ItemRecord("DONE", t, partner_code=r.status, mark_processed=True,
                                                  message=f"controlled at {t.first_controlled_at.isoformat()}"))
                    else:
                        records.append(ItemRecord("FAILED", t, partner_code=r.status, message=r.error))
                last = chunk[-1]
                state = ({CONTROL_POSITION: {"at": last.last_controlled_at.isoformat(), "ticket_id": last.pk}}
                         if keep_position else None)
                ctx.record(records, state=state)
    _summary(ctx, "controls pushed")


# ---------------------------------------------------------------- feedback

def feedback(ctx: RunContext) -> None:
    """One page of the status log (batch_size entries) from the stored pagination key; the entries,
    the wallet rows they change and the next key are written in one transaction, so a run killed
    before it resumes exactly at the key it had."""
    key = ctx.state.get(PAGINATION_KEY) or ""
    limit = min(ctx.batch_size or 500, MAX_LOG_LIMIT)
    with _client(ctx) as client:
        entries, next_key = client.status_logs(key, limit)
    ctx.select(len(entries))
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", None, object_ref=e.ticket_id, partner_code=e.action,
                              message=f"simulation: {e.from_status or '—'} → {e.to_status} ({e.tx_state})")
                   for e in entries)
        ctx.summary = f"simulation: {len(entries)} log entries read, nothing stored"
        return
    with transaction.atomic():
        records = _apply_log(ctx, entries, key)
        ctx.record(records, state={PAGINATION_KEY: next_key})
    ctx.summary = (f"{len(entries)} log entries read ({ctx.counts['done']} tickets updated, "
                   f"{ctx.counts['skipped']} entries of unknown tickets); next key {next_key}")


def _apply_log(ctx: RunContext, entries: list[LogEntry], page_key: str) -> list[ItemRecord]:
    ids = {int(e.ticket_id) for e in entries if e.ticket_id.isdigit()}
    tickets = {t.pk: t for t in Ticket.objects.filter(organisation=ctx.organisation, pk__in=ids)}
    wallets = {w.ticket_id: w for w in WalletTicket.objects.filter(organisation=ctx.organisation, ticket_id__in=ids)}
    # A transaction's outcome (CONFIRMED / KO) repeats its action's statuses: only the first entry
    # of a hash moves the wallet; a KO changes nothing, it is only reported (and logged).
    seen = set(WalletLogEntry.objects.filter(organisation=ctx.organisation, ticket_id__in=ids,
                                             tx_hash__in={e.tx_hash for e in entries})
               .values_list("tx_hash", flat=True))
    log_rows, records, touched = [], [], {}
    now = timezone.now()
    for e in entries:
        ticket = tickets.get(int(e.ticket_id)) if e.ticket_id.isdigit() else None
        if ticket is None:
            records.append(ItemRecord("SKIPPED", None, object_ref=e.ticket_id[:160], partner_code=e.action,
                                      message="not a ticket of this organisation"))
            continue
        log_rows.append(WalletLogEntry(organisation=ctx.organisation, ticket=ticket, at=e.at, action=e.action,
                                       from_status=e.from_status, to_status=e.to_status,
                                       from_owner=e.from_owner[:254], to_owner=e.to_owner[:254],
                                       tx_hash=e.tx_hash[:100], tx_state=e.tx_state, page_key=page_key[:200]))
        if e.tx_hash in seen:
            continue
        seen.add(e.tx_hash)
        wallet = wallets.get(ticket.pk) or WalletTicket(organisation=ctx.organisation, ticket=ticket,
                                                        injected_at=e.at)
        wallets[ticket.pk] = wallet
        wallet.wallet_status = e.to_status
        wallet.owner_email = e.to_owner[:254]
        if e.holder:
            holder = e.holder
            wallet.holder_first_name = str(holder.get("firstName") or "")[:100]
            wallet.holder_last_name = str(holder.get("lastName") or "")[:100]
            wallet.holder_fields = {k: v for k, v in holder.items() if k not in ("firstName", "lastName")}
        wallet.updated_at = now
        touched[ticket.pk] = (ticket, e)
    WalletLogEntry.objects.bulk_create(log_rows)
    for pk, (ticket, e) in touched.items():
        wallets[pk].save()
        records.append(ItemRecord("DONE", ticket, partner_code=e.to_status,
                                  message=f"{e.action} → {e.to_status} ({e.tx_state})"))
    return records


# ---------------------------------------------------------------- digital privileges

def inject_privileges(ctx: RunContext) -> None:
    params: InjectionParams = ctx.params
    point_of_sale = printing_point_of_sale(ctx.organisation, ctx.interface.parameters)
    qs = Ticket.objects.filter(organisation=ctx.organisation, product__family__in=CARD_FAMILIES,
                               status=TicketStatus.NOT_PRINTED)
    ready, skipped = _select_in_id_order(ctx, _filtered(qs, params), _mandatory_check(params))
    ctx.record(skipped)
    size = ctx.interface_params.ticketIterationSize
    linked = _linked_tickets([t for t, _ in ready])
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", t, partner_code="SIMULATION",
                              message=f"simulation: would send {card_fields(t, h, linked.get(t.order_id, []))}")
                   for t, h in ready)
        ctx.summary = f"simulation: {len(ready)} cards would be sent, {len(skipped)} skipped; nothing sent"
        return
    by_product: dict[int, list[tuple[Ticket, Holder]]] = {}
    for t, h in ready:
        by_product.setdefault(t.product_id, []).append((t, h))
    with _client(ctx) as client:
        for cards in by_product.values():
            definition = _privilege_definition(ctx, client, cards[0][0])
            for chunk in _chunks(cards, size):
                sent = [card_fields(t, h, linked.get(t.order_id, [])) for t, h in chunk]
                by_id = {r.id: r for r in client.inject_cards(definition.partner_id, sent)}
                _record_injection(ctx, chunk, by_id, point_of_sale)
    _summary(ctx, "cards injected")


def _privilege_definition(ctx: RunContext, client: TixngoClient, card: Ticket) -> PrivilegeDefinition:
    """The product's definition: created in TIXnGO by its first injection, once (the row remembers it)."""
    existing = PrivilegeDefinition.objects.filter(organisation=ctx.organisation, product_id=card.product_id).first()
    if existing is not None:
        return existing
    partner_id = f"PRIV-{card.product_id}"
    client.put_privilege(partner_id, privilege_fields(card))  # idempotent: a rerun after a kill is harmless
    definition, _ = PrivilegeDefinition.objects.get_or_create(
        product_id=card.product_id,
        defaults={"organisation": ctx.organisation, "partner_id": partner_id, "created_at": timezone.now()})
    return definition


def _linked_tickets(cards: list[Ticket]) -> dict[int, list[int]]:
    """The tickets a card links: those of its order that are in the wallet."""
    rows = (Ticket.objects.filter(order_id__in={c.order_id for c in cards}, product__family__in=TICKET_FAMILIES,
                                  wallet__isnull=False).exclude(wallet__wallet_status__in=GONE)
            .order_by("pk").values_list("order_id", "pk"))
    out: dict[int, list[int]] = {}
    for order_id, pk in rows:
        out.setdefault(order_id, []).append(pk)
    return out


# ---------------------------------------------------------------- registration

FUNCTIONS = (
    FunctionSpec(name="TIXNGO_TICKET_INJECTION", label="Ticket injection (tickets external printing)",
                 run=inject_tickets, params_schema=InjectionParams, default_batch_size=1000, max_batch_size=100000,
                 description="Sends NOT_PRINTED tickets (event, match, open pass, service) to TIXnGO in ticket-id "
                             "order; each injected ticket becomes PRINTED by the interface's point of sale. "
                             "Filters products, performances, tariffCodes, categoryCodes combine (AND); "
                             "fileNumber excludes them. Mandatory holder fields: "
                             + ", ".join(HOLDER_FIELDS) + ". Recommended: every 5 minutes, batch 1000."),
    FunctionSpec(name="TIXNGO_PUSH_CANCELLED", label="Push cancelled and invalidated tickets", run=push_cancelled,
                 params_schema=PushParams, default_batch_size=None, max_batch_size=None, uses_watermark=True,
                 description="Deletes from the wallet the tickets cancelled or invalidated since the position the "
                             "last run reached. A date from is a one-off catch-up: do not keep it on a recurring "
                             "schedule. Keep the batch size empty."),
    FunctionSpec(name="TIXNGO_PUSH_CONTROLLED", label="Push controlled tickets", run=push_controlled,
                 params_schema=PushParams, default_batch_size=None, max_batch_size=None, uses_watermark=True,
                 description="Marks CONTROLLED in TIXnGO, once, the tickets controlled at a door since the position "
                             "the last run reached (on control time). Keep the batch size empty."),
    FunctionSpec(name="TIXNGO_FEEDBACK", label="Retrieve ticket status from TIXnGO", run=feedback,
                 params_schema=FeedbackParams, default_batch_size=500, max_batch_size=MAX_LOG_LIMIT,
                 description="Reads batch_size entries of the TIXnGO status log from the stored pagination key and "
                             "stores each ticket's wallet status, owner, holder and blockchain log; no ticket "
                             "status changes. " + PAGINATION_WARNING),
    FunctionSpec(name="TIXNGO_PRIVILEGES", label="Inject digital privileges", run=inject_privileges,
                 params_schema=InjectionParams, default_batch_size=1000, max_batch_size=100000,
                 description="Sends NOT_PRINTED membership and season cards (non-transferable, with the tickets "
                             "of their order in the wallet); the first injection of a product creates its "
                             "privilege definition."),
)


def register() -> None:
    for type_code in ("TIXNGO", "TIXNGO_TEMPLATE"):
        for spec in FUNCTIONS:
            register_function(type_code, spec)
