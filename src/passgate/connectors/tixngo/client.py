"""The TIXnGO wire format, all of it (CONTRACTS.md, TIXnGO section); nothing else in passgate
knows a path, a header or a JSON key of the partner.

- header `X-Api-Key: <API key>` on every call; root = the interface URL without its final
  `/tickets` (`https://host/…/organizer/tickets` → `https://host/…/organizer`);
- `PUT /events/{eventId}` (idempotent create or update);
- `POST /tickets {tickets}` (≤ 1000) → per ticket `{ticketId, status: INJECTED | ALREADY_INJECTED
  | REJECTED, error?}`; re-injecting an id never creates a second ticket, so the call is repeatable;
- `POST /tickets/delete {ticketIds}` → DELETION_PENDING; `POST /tickets/control {tickets:
  [{ticketId, controlledAt}]}` → CONTROLLED;
- `GET /report/ticket-status-logs?paginationKey=&limit=` (limit ≤ 10000) → `{logs, nextPageKey}`;
- `GET /tickets/{ticketId}` → status, wallet owner, holder (404: unknown);
- `PUT /privileges/{definitionId}`, `POST /privileges/{definitionId}/cards {cards}`.

Answers are parsed strictly: anything else than the contract's shape is a PartnerError that
quotes what was found, never a KeyError deep in a function.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from passgate.jobs.partner_http import PartnerClient, PartnerError

MAX_TICKETS_PER_CALL = 1000
MAX_LOG_LIMIT = 10000

WALLET_STATUSES = ("INJECTED", "RECEIVED", "ACTIVATED", "TRANSFER_PENDING", "TRANSFERRED", "CONTROLLED",
                   "DELETION_PENDING", "DELETED")
LOG_ACTIONS = ("INJECT", "TRANSFER", "DELETE", "BURN")
TX_STATES = ("PENDING", "CONFIRMED", "KO")
INJECT_STATUSES = ("INJECTED", "ALREADY_INJECTED", "REJECTED")
DELETE_STATUSES = ("DELETION_PENDING", "DELETED", "REJECTED")
CONTROL_STATUSES = ("CONTROLLED", "REJECTED")


@dataclass(frozen=True)
class ItemResult:
    """The partner's answer for one ticket (or card) of a batch call."""

    id: str
    status: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "REJECTED"


@dataclass(frozen=True)
class LogEntry:
    ticket_id: str
    action: str
    from_status: str
    to_status: str
    from_owner: str
    to_owner: str
    holder: dict[str, Any] | None
    tx_hash: str
    tx_state: str
    at: dt.datetime


@dataclass(frozen=True)
class WalletDetails:
    ticket_id: str
    status: str
    owner: str
    holder: dict[str, Any] | None


def _garbage(what: str, found: Any) -> PartnerError:
    shown = repr(found)
    if len(shown) > 300:
        shown = shown[:300] + "…"
    return PartnerError(f"TIXnGO answered something that is not {what}", expected=what, found=shown,
                        partner_code="BAD_ANSWER")


def _text(obj: dict, key: str, what: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _garbage(f"{what} with a text {key}", obj)
    return str(value)


def _choice(obj: dict, key: str, allowed: tuple[str, ...], what: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if value not in allowed:
        raise _garbage(f"{what} with {key} one of {', '.join(allowed)}", obj)
    return value


def _holder(obj: dict, what: str) -> dict[str, Any] | None:
    holder = obj.get("holder")
    if holder is not None and not isinstance(holder, dict):
        raise _garbage(f"{what} with a holder object", obj)
    return holder


class TixngoClient(PartnerClient):
    partner = "TIXnGO"

    def __init__(self, url: str, api_key: str, **kwargs: Any) -> None:
        kwargs.setdefault("secrets", [api_key])
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        super().__init__(api_root(url), headers=headers, **kwargs)

    # -------------------------------------------------------------- parsing
    def _body(self, response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise _garbage(f"JSON ({what})", response.text) from None
        if not isinstance(body, dict):
            raise _garbage(f"a JSON object ({what})", body)
        return body

    def _results(self, response, id_key: str, statuses: tuple[str, ...], sent: list[str]) -> list[ItemResult]:
        body = self._body(response, "batch results")
        results = body.get("results")
        if not isinstance(results, list):
            raise _garbage('{"results": [...]}', body)
        out = []
        for item in results:
            if not isinstance(item, dict):
                raise _garbage("a result object", item)
            out.append(ItemResult(_text(item, id_key, "a result"), _choice(item, "status", statuses, "a result"),
                                  str(item.get("error") or "")))
        answered = {r.id for r in out}
        missing = [i for i in sent if i not in answered]
        if missing:
            raise _garbage(f"a result for every item sent (missing {', '.join(missing[:5])})", results[:5])
        return out

    # -------------------------------------------------------------- events and tickets
    def put_event(self, event_id: str, event: dict[str, Any]) -> bool:
        """Create or update the event; True when it was created."""
        body = self._body(self.put(f"/events/{event_id}", json=event), "an event")
        created = body.get("created")
        if not isinstance(created, bool):
            raise _garbage('{"created": true|false}', body)
        return created

    def inject_tickets(self, tickets: list[dict[str, Any]]) -> list[ItemResult]:
        _check_size(tickets)
        response = self.post("/tickets", json={"tickets": tickets}, idempotent=True)
        return self._results(response, "ticketId", INJECT_STATUSES, [str(t["ticketId"]) for t in tickets])

    def delete_tickets(self, ticket_ids: list[str]) -> list[ItemResult]:
        _check_size(ticket_ids)
        response = self.post("/tickets/delete", json={"ticketIds": ticket_ids}, idempotent=True)
        return self._results(response, "ticketId", DELETE_STATUSES, [str(t) for t in ticket_ids])

    def control_tickets(self, controls: list[tuple[str, dt.datetime]]) -> list[ItemResult]:
        _check_size(controls)
        payload = [{"ticketId": tid, "controlledAt": at.isoformat()} for tid, at in controls]
        response = self.post("/tickets/control", json={"tickets": payload}, idempotent=True)
        return self._results(response, "ticketId", CONTROL_STATUSES, [str(t) for t, _ in controls])

    def ticket(self, ticket_id: str) -> WalletDetails | None:
        response = self.get(f"/tickets/{ticket_id}", accept=(404,))
        if response.status_code == 404:
            return None
        body = self._body(response, "a ticket")
        return WalletDetails(_text(body, "ticketId", "a ticket"), _choice(body, "status", WALLET_STATUSES, "a ticket"),
                             _text(body, "ownerId", "a ticket", required=False), _holder(body, "a ticket"))

    # -------------------------------------------------------------- feedback
    def status_logs(self, pagination_key: str, limit: int) -> tuple[list[LogEntry], str]:
        """One page of the status log from `pagination_key` ("" = the beginning): (entries, next key)."""
        if not 1 <= limit <= MAX_LOG_LIMIT:
            raise ValueError(f"limit must be 1…{MAX_LOG_LIMIT}, got {limit}")
        params = {"limit": limit, **({"paginationKey": pagination_key} if pagination_key else {})}
        body = self._body(self.get("/report/ticket-status-logs", params=params), "a status log page")
        logs, next_key = body.get("logs"), body.get("nextPageKey")
        if not isinstance(logs, list) or not isinstance(next_key, str) or not next_key:
            raise _garbage('{"logs": [...], "nextPageKey": "…"}', body)
        return [_log_entry(e) for e in logs], next_key

    # -------------------------------------------------------------- digital privileges
    def put_privilege(self, definition_id: str, definition: dict[str, Any]) -> bool:
        body = self._body(self.put(f"/privileges/{definition_id}", json=definition), "a privilege definition")
        created = body.get("created")
        if not isinstance(created, bool):
            raise _garbage('{"created": true|false}', body)
        return created

    def inject_cards(self, definition_id: str, cards: list[dict[str, Any]]) -> list[ItemResult]:
        _check_size(cards)
        response = self.post(f"/privileges/{definition_id}/cards", json={"cards": cards}, idempotent=True)
        return self._results(response, "cardId", INJECT_STATUSES, [str(c["cardId"]) for c in cards])


def api_root(url: str) -> str:
    """The API root: the interface URL without its final `/tickets`."""
    url = url.rstrip("/")
    return url[: -len("/tickets")] if url.endswith("/tickets") else url


def _check_size(items: list) -> None:
    if len(items) > MAX_TICKETS_PER_CALL:
        raise ValueError(f"at most {MAX_TICKETS_PER_CALL} items per TIXnGO call, got {len(items)}")


def _log_entry(raw: Any) -> LogEntry:
    what = "a status log entry"
    if not isinstance(raw, dict):
        raise _garbage(what, raw)
    try:
        at = dt.datetime.fromisoformat(str(raw.get("at")).replace("Z", "+00:00"))
    except ValueError:
        raise _garbage(f"{what} with an ISO 8601 at", raw) from None
    if at.tzinfo is None:
        raise _garbage(f"{what} with an ISO 8601 at and its offset", raw)
    return LogEntry(
        ticket_id=_text(raw, "ticketId", what), action=_choice(raw, "action", LOG_ACTIONS, what),
        from_status=_choice(raw, "fromStatus", WALLET_STATUSES, what, required=False),
        to_status=_choice(raw, "toStatus", WALLET_STATUSES, what),
        from_owner=_text(raw, "fromOwnerId", what, required=False),
        to_owner=_text(raw, "toOwnerId", what, required=False), holder=_holder(raw, what),
        tx_hash=_text(raw, "txHash", what), tx_state=_choice(raw, "txState", TX_STATES, what), at=at)
