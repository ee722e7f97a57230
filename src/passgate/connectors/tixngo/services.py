"""What an operator asks of the TIXnGO connector outside the runs: a template preview against a real
ticket, and what the wallet says of a ticket (status, owner, holder, blockchain log). The admin
and the API both call these; every lookup is scoped to the actor's organisation."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from passgate.errors import InvalidInput
from passgate.jobs.models import Interface
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get
from passgate.sales.models import Ticket

from .functions import holder_for
from .models import WalletLogEntry, WalletStatus, WalletTicket
from .payload import event_fields, ticket_fields
from .templates import FIELDS, VARIABLES, TicketTemplates, template_variables, templates_dict

TYPES = ("TIXNGO", "TIXNGO_TEMPLATE")
__all__ = ["FIELDS", "VARIABLES", "preview", "wallet_of", "wallet_tickets"]


def interface_of(organisation) -> Interface | None:
    """The organisation's one TIXnGO interface (either type), if any."""
    return Interface.objects.filter(organisation=organisation, type__in=TYPES).first()


def saved_templates(organisation) -> dict[str, str]:
    interface = interface_of(organisation)
    return templates_dict((interface.parameters or {}).get("templates")) if interface else {}


def preview(actor: Actor, ticket_id: int, templates: dict[str, str] | None = None) -> dict[str, Any]:
    """What injection would send for this ticket with `templates` (default: the saved ones): each
    template's rendering, the event and the ticket bodies. Sends nothing."""
    actor.require(Permission.VIEW)
    ticket = scoped_get(actor, Ticket, field="ticket_id", pk=ticket_id)
    compiled = TicketTemplates(saved_templates(actor.organisation) if templates is None else templates)
    holder = holder_for(ticket)
    variables = template_variables(ticket, holder)
    return {
        "ticket_id": ticket.pk,
        "templates": compiled.sources,
        "rendered": {field: compiled.render(field, variables) for field in FIELDS if field in compiled.sources},
        "event": event_fields(ticket, compiled),
        "ticket": ticket_fields(ticket, holder, compiled),
        "variables": variables,
    }


def wallet_of(actor: Actor, ticket_id: int) -> dict[str, Any]:
    """The wallet's view of one ticket; `wallet_status` None when it was never injected."""
    actor.require(Permission.VIEW)
    ticket = scoped_get(actor, Ticket, field="id", pk=ticket_id)
    wallet = WalletTicket.objects.filter(organisation=actor.organisation, ticket=ticket).first()
    log = WalletLogEntry.objects.filter(organisation=actor.organisation, ticket=ticket).order_by("at", "id")
    return wallet_out(ticket, wallet, list(log))


def wallet_out(ticket: Ticket, wallet: WalletTicket | None, log: list[WalletLogEntry] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ticket_id": ticket.pk, "barcode": ticket.barcode, "ticket_status": ticket.status,
        "wallet_status": wallet.wallet_status if wallet else None,
        "owner": wallet.owner_email if wallet else "",
        "holder": {"first_name": wallet.holder_first_name, "last_name": wallet.holder_last_name,
                   **(wallet.holder_fields or {})} if wallet else {},
        "injected_at": wallet.injected_at if wallet else None,
        "updated_at": wallet.updated_at if wallet else None,
        "last_error": wallet.last_error if wallet else "",
    }
    if log is not None:
        out["log"] = [{"at": e.at, "action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                       "from_owner": e.from_owner, "to_owner": e.to_owner, "tx_hash": e.tx_hash,
                       "tx_state": e.tx_state} for e in log]
    return out


def wallet_tickets(actor: Actor, wallet_status: str | None = None) -> QuerySet[WalletTicket]:
    actor.require(Permission.VIEW)
    qs = WalletTicket.objects.filter(organisation=actor.organisation).select_related("ticket")
    if wallet_status:
        if wallet_status not in WalletStatus.values:
            raise InvalidInput("unknown wallet status", field="wallet_status",
                               expected="one of " + ", ".join(WalletStatus.values), found=wallet_status)
        qs = qs.filter(wallet_status=wallet_status)
    return qs
