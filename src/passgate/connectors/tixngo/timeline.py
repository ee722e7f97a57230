"""The wallet's side of a ticket's story in the ticket timeline (registered by the app's ready()):
one event per status log entry."""

from __future__ import annotations

from typing import Any

from .models import WalletLogEntry

TITLES = {"INJECT": "Injected into the TIXnGO wallet", "TRANSFER": "Wallet: {to}",
          "DELETE": "Wallet: {to}", "BURN": "Controlled (TIXnGO)"}


def timeline_events(organisation, ticket_ids: list[int]) -> list[dict[str, Any]]:
    entries = WalletLogEntry.objects.filter(organisation=organisation, ticket_id__in=ticket_ids).order_by("at", "id")
    events = []
    for e in entries:
        title = TITLES.get(e.action, "Wallet: {to}").format(to=e.to_status.replace("_", " ").lower())
        if e.tx_state != "PENDING":
            title += f" — blockchain {e.tx_state.lower()}"
        events.append({"at": e.at, "kind": "wallet", "title": title, "actor": e.to_owner or "TIXnGO",
                       "detail": {"action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                                  "from_owner": e.from_owner, "to_owner": e.to_owner, "tx_hash": e.tx_hash,
                                  "tx_state": e.tx_state},
                       "ticket_id": e.ticket_id})
    return events
