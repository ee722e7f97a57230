"""The TIXnGO partner (secure mobile wallet), as passgate models it (CONTRACTS.md).

Interface URL `http://127.0.0.1:PORT/organizer/tickets`; root = `/organizer`. Every partner
call needs `X-Api-Key` equal to the seeded key (default `tixngo-key`), else 401.

- `PUT /organizer/events/{eventId}` — create (201) or update (200) an event; 400 naming the field.
- `POST /organizer/tickets {tickets: [...]}` (≤ 1000) → `{results: [{ticketId, status: INJECTED |
  ALREADY_INJECTED | REJECTED, error?, field?}]}`. A DELETED ticket id can be injected again
  (a reprint: same id, new barcode) and is INJECTED again, logged INJECT.
- `POST /organizer/tickets/delete {ticketIds}` → DELETION_PENDING, DELETED after `deletion_delay_s`.
- `POST /organizer/tickets/control {tickets: [{ticketId, controlledAt}]}` → CONTROLLED (logged BURN).
- `GET /organizer/report/ticket-status-logs?paginationKey=&limit=` → `{logs, nextPageKey}`.
- `GET /organizer/tickets/{ticketId}` → status, wallet owner, holder; 404 when unknown.
- `PUT /organizer/privileges/{definitionId}`, `POST /organizer/privileges/{definitionId}/cards`.
- Sandbox only: `POST /_sandbox/tickets/{id}/receive | activate | transfer`.

The log is append-only; every entry carries a deterministic fake transaction hash and
`txState: PENDING`. `tx_confirm_s` after it was written (0 = at the next read) the sandbox
appends the outcome of that transaction: an entry with the same ticket, action, statuses and
`txHash`, whose `txState` is CONFIRMED, or KO for a share `tx_ko_rate` of hashes (a KO changes
nothing in the wallet; it is only reported).

Per-ticket work is a few dict operations and one list append; the state file (if any) is
written once per request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState

MAX_TICKETS = 1000
# A batch item the `partial` fault refuses: the partner said no for now, a retry may pass.
REFUSED = "refused by the partner (try again later)"
MAX_LOG_LIMIT = 10000
DEFAULT_LOG_LIMIT = 1000

STATUSES = ("INJECTED", "RECEIVED", "ACTIVATED", "TRANSFER_PENDING", "TRANSFERRED", "CONTROLLED",
            "DELETION_PENDING", "DELETED")
GENDERS = {"MALE", "FEMALE", "OTHER", "UNKNOWN"}
ACTIVATION_METHODS = {"online", "offline"}

# a log entry is a list (compact in memory and in the state file)
T_ID, T_ACTION, T_FROM, T_TO, T_FROM_OWNER, T_TO_OWNER, T_HOLDER, T_STATE, T_AT, T_SEQ = range(10)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_URL = re.compile(r"^https?://\S+$")


def initial() -> dict:
    return {"api_key": "tixngo-key", "deletion_delay_s": 2.0, "tx_confirm_s": 1.0, "tx_ko_rate": 0.0,
            "events": {}, "tickets": {}, "privileges": {}, "log": [], "tx_cursor": 0, "deletions": []}


class Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def json_response(body: Any, status_code: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json")


def error(status: int, message: str, field: str | None = None) -> Response:
    body = {"error": message}
    if field:
        body["field"] = field
    return json_response(body, status)


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _denied(request: Request) -> Response | None:
    if request.headers.get("x-api-key") != _state(request).data["api_key"]:
        return error(401, "bad API key")
    return None


async def _json_object(request: Request) -> dict:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Invalid("body", "not JSON") from None
    if not isinstance(body, dict):
        raise Invalid("body", "expected a JSON object")
    return body


# ---------------------------------------------------------------- validation

def _text(obj: dict, key: str, prefix: str, required: bool = False, max_len: int = 255) -> None:
    value = obj.get(key)
    if value is None:
        if required:
            raise Invalid(prefix + key, "required")
        return
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise Invalid(prefix + key, f"expected a non-empty text of at most {max_len} characters")


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "" or len(str(value)) > 64:
        raise Invalid(field, "expected a non-empty id (text or integer, at most 64 characters)")
    return str(value)


def _datetime(obj: dict, key: str, prefix: str, required: bool = False) -> dt.datetime | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise Invalid(prefix + key, "required")
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(prefix + key, "expected an ISO 8601 date-time with its offset") from None
    if parsed.tzinfo is None:
        raise Invalid(prefix + key, "expected an ISO 8601 date-time with its offset")
    return parsed


def _pattern(obj: dict, key: str, prefix: str, pattern: re.Pattern, what: str) -> None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or not pattern.match(value)):
        raise Invalid(prefix + key, f"expected {what}")


def validate_event(body: dict) -> None:
    _text(body, "name", "", required=True)
    start = _datetime(body, "startTime", "", required=True)
    end = _datetime(body, "expirationDate", "", required=True)
    if end < start:
        raise Invalid("expirationDate", "before startTime")
    address = body.get("address")
    if address is not None:
        if not isinstance(address, dict):
            raise Invalid("address", "expected an object {site, city, countryCode, zip}")
        for key in ("site", "city", "zip"):
            _text(address, key, "address.")
        _pattern(address, "countryCode", "address.", _COUNTRY, "an ISO 3166 alpha-2 code (FR)")
    _pattern(body, "website", "", _URL, "an http(s) URL")


def validate_ticket(ticket: Any, events: dict) -> str:
    """The ticket's id once valid; raises Invalid naming the field."""
    if not isinstance(ticket, dict):
        raise Invalid("ticket", "expected an object")
    ticket_id = _id(ticket.get("ticketId"), "ticketId")
    event_id = ticket.get("eventId")
    if event_id is None:
        raise Invalid("eventId", "required")
    if str(event_id) not in events:
        raise Invalid("eventId", "unknown event (PUT /organizer/events/{eventId} first)")
    _text(ticket, "barcode", "", required=True, max_len=128)
    if ticket.get("fileId") is not None:
        _id(ticket["fileId"], "fileId")
    if ticket.get("sortingKey") is not None:
        _id(ticket["sortingKey"], "sortingKey")
    _text(ticket, "category", "")
    price = ticket.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0):
        raise Invalid("price", "expected a number ≥ 0")
    _pattern(ticket, "currency", "", _CURRENCY, "an ISO 4217 code (EUR)")
    if price is not None and ticket.get("currency") is None:
        raise Invalid("currency", "required with a price")
    main = ticket.get("mainApplicant")
    if main is not None and not isinstance(main, bool):
        raise Invalid("mainApplicant", "expected true or false")
    spectator = ticket.get("spectatorDetails")
    if spectator is not None:
        if not isinstance(spectator, dict):
            raise Invalid("spectatorDetails", "expected an object")
        p = "spectatorDetails."
        gender = spectator.get("gender")
        if gender is not None and gender not in GENDERS:
            raise Invalid(p + "gender", f"expected one of {sorted(GENDERS)}")
        for key in ("firstName", "lastName", "idNumber", "birthRegion", "birthPlace"):
            _text(spectator, key, p)
        _pattern(spectator, "email", p, _EMAIL, "an e-mail address")
        birth = spectator.get("birthDate")
        if birth is not None:
            try:
                dt.date.fromisoformat(birth)
            except (TypeError, ValueError):
                raise Invalid(p + "birthDate", "expected a date YYYY-MM-DD") from None
        _pattern(spectator, "countryCode", p, _COUNTRY, "an ISO 3166 alpha-2 code (FR)")
    activation = ticket.get("activationParameters")
    if activation is not None:
        if not isinstance(activation, dict):
            raise Invalid("activationParameters", "expected an object {method, time}")
        if activation.get("method") not in ACTIVATION_METHODS:
            raise Invalid("activationParameters.method", "expected online or offline")
        _datetime(activation, "time", "activationParameters.")
    return ticket_id


def owner_of(email: str | None) -> str | None:
    """The wallet owner a ticket is assigned to: derived from the spectator's e-mail."""
    if not email:
        return None
    return "W-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


def holder_of(spectator: dict | None) -> dict | None:
    if not spectator:
        return None
    return {"firstName": spectator.get("firstName"), "lastName": spectator.get("lastName"),
            "email": spectator.get("email")}


# ---------------------------------------------------------------- the log

def tx_hash(entry: list) -> str:
    seed = f"tixngo:{entry[T_SEQ]}:{entry[T_ID]}:{entry[T_ACTION]}:{entry[T_TO]}"
    return "0x" + hashlib.sha256(seed.encode()).hexdigest()


def _ko(entry: list, rate: float) -> bool:
    return rate > 0 and int(tx_hash(entry)[2:10], 16) / 0x100000000 < rate


def append(data: dict, ticket: dict, action: str, to_status: str, *, to_owner: Any = ..., holder: Any = ...,
           now: float) -> None:
    log = data["log"]
    from_owner = ticket["ownerId"]
    if to_owner is not ...:
        ticket["ownerId"] = to_owner
    if holder is not ...:
        ticket["holder"] = holder
    log.append([ticket["ticketId"], action, ticket["status"], to_status, from_owner, ticket["ownerId"],
                ticket["holder"], "PENDING", now, len(log)])
    ticket["status"] = to_status
    ticket["updatedAt"] = now


def advance(data: dict, now: float | None = None) -> bool:
    """Due deletions become DELETED; due transactions get their outcome appended. True if anything changed."""
    now = time.time() if now is None else now
    size = len(data["log"])
    deletions = data["deletions"]
    if deletions:
        delay = data["deletion_delay_s"]
        done = 0
        for ticket_id, since in deletions:
            if since + delay > now:
                break
            done += 1
            ticket = data["tickets"].get(ticket_id)
            if ticket is not None and ticket["status"] == "DELETION_PENDING":
                append(data, ticket, "DELETE", "DELETED", now=now)
        del deletions[:done]
    log = data["log"]
    cursor = data["tx_cursor"]
    confirm_after = data["tx_confirm_s"]
    ko_rate = data["tx_ko_rate"]
    end = len(log)
    while cursor < end:
        entry = log[cursor]
        if entry[T_STATE] == "PENDING":
            if entry[T_AT] + confirm_after > now:
                break
            outcome = list(entry)
            outcome[T_STATE] = "KO" if _ko(entry, ko_rate) else "CONFIRMED"
            outcome[T_AT] = now
            log.append(outcome)
        cursor += 1
    changed = cursor != data["tx_cursor"] or len(log) != size
    data["tx_cursor"] = cursor
    return changed


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(entry: list) -> dict:
    return {"ticketId": entry[T_ID], "action": entry[T_ACTION], "fromStatus": entry[T_FROM],
            "toStatus": entry[T_TO], "fromOwnerId": entry[T_FROM_OWNER], "toOwnerId": entry[T_TO_OWNER],
            "holder": entry[T_HOLDER], "txHash": tx_hash(entry), "txState": entry[T_STATE], "at": _iso(entry[T_AT])}


def encode_key(position: int) -> str:
    return base64.urlsafe_b64encode(f"log:{position}".encode()).decode().rstrip("=")


def decode_key(key: str) -> int:
    try:
        text = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode()
        prefix, _, number = text.partition(":")
        position = int(number)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("paginationKey", "not a key this partner gave") from None
    if prefix != "log" or position < 0:
        raise Invalid("paginationKey", "not a key this partner gave")
    return position


def ticket_view(ticket: dict) -> dict:
    return {"ticketId": ticket["ticketId"], "eventId": ticket["eventId"], "barcode": ticket["barcode"],
            "status": ticket["status"], "ownerId": ticket["ownerId"], "holder": ticket["holder"],
            "updatedAt": _iso(ticket["updatedAt"])}


def ticket_sent(ticket: dict) -> dict:
    """A ticket as the sandbox shows it in /_sandbox/state: its wallet view and what was injected."""
    return {**ticket_view(ticket), "sent": orjson.loads(ticket["sent"])}


# ---------------------------------------------------------------- partner endpoints

async def put_event(request: Request) -> Response:
    if denied := _denied(request):
        return denied
    state = _state(request)
    event_id = request.path_params["eventId"]
    try:
        body = await _json_object(request)
        validate_event(body)
    except Invalid as exc:
        return error(400, str(exc), exc.field)
    event = {"eventId": event_id, "name": body["name"], "startTime": body["startTime"],
             "expirationDate": body["expirationDate"], "address": body.get("address"),
             "website": body.get("website")}
    with state.lock:
        created = event_id not in state.data["events"]
        state.data["events"][event_id] = event
        state.save()
    return json_response({"eventId": event_id, "created": created, "event": event}, 201 if created else 200)


async def _batch(request: Request, key: str) -> list | Response:
    try:
        body = await _json_object(request)
    except Invalid as exc:
        return error(400, str(exc), exc.field)
    items = body.get(key)
    if not isinstance(items, list):
        return error(400, f"expected {{\"{key}\": [...]}}", key)
    if len(items) > MAX_TICKETS:
        return error(400, f"at most {MAX_TICKETS} {key} per call, got {len(items)}", key)
    return items


def batch_endpoint(key: str):
    """A partner batch call: the API key, the body {key: [...]} (at most MAX_TICKETS per call),
    then `handle(state, items, now)` under the state lock, which returns the per-item results;
    the state is saved once per call, never per item."""
    def wrap(handle):
        async def endpoint(request: Request) -> Response:
            if denied := _denied(request):
                return denied
            items = await _batch(request, key)
            if isinstance(items, Response):
                return items
            state = _state(request)
            with state.lock:
                results = handle(state, items, time.time())
                state.save()
            return json_response({"results": results})

        endpoint.__name__ = handle.__name__
        return endpoint
    return wrap


@batch_endpoint("tickets")
def inject(state: SandboxState, items: list, now: float) -> list[dict]:
    results = []
    data = state.data
    tickets, events, refuses = data["tickets"], data["events"], state.faults.refuses
    for raw in items:
        try:
            ticket_id = validate_ticket(raw, events)
        except Invalid as exc:
            tid = raw.get("ticketId") if isinstance(raw, dict) else None
            results.append({"ticketId": tid, "status": "REJECTED", "error": str(exc), "field": exc.field})
            continue
        if refuses(ticket_id):
            results.append({"ticketId": raw["ticketId"], "status": "REJECTED",
                            "error": REFUSED, "field": None})
            continue
        spectator = raw.get("spectatorDetails")
        existing = tickets.get(ticket_id)
        if existing is not None and existing["status"] != "DELETED":
            results.append({"ticketId": raw["ticketId"], "status": "ALREADY_INJECTED"})
            continue
        owner, holder = owner_of(spectator.get("email") if spectator else None), holder_of(spectator)
        sent = orjson.dumps(raw).decode()  # the ticket as received, compact (a third of the dict's memory)
        if existing is None:
            ticket = {"ticketId": ticket_id, "eventId": str(raw["eventId"]), "barcode": raw["barcode"],
                      "status": None, "ownerId": None, "holder": None, "updatedAt": now, "sent": sent}
            tickets[ticket_id] = ticket
        else:  # a reprint: the DELETED ticket comes back with its new barcode
            ticket = existing
            ticket.update(eventId=str(raw["eventId"]), barcode=raw["barcode"], sent=sent)
        append(data, ticket, "INJECT", "INJECTED", to_owner=owner, holder=holder, now=now)
        results.append({"ticketId": raw["ticketId"], "status": "INJECTED"})
    return results


@batch_endpoint("ticketIds")
def delete(state: SandboxState, items: list, now: float) -> list[dict]:
    results = []
    data = state.data
    for raw in items:
        ticket = data["tickets"].get(str(raw)) if isinstance(raw, (str, int)) else None
        if ticket is None:
            results.append({"ticketId": raw, "status": "REJECTED", "error": "unknown ticket"})
        elif state.faults.refuses(raw):
            results.append({"ticketId": raw, "status": "REJECTED",
                            "error": REFUSED})
        elif ticket["status"] in ("DELETION_PENDING", "DELETED"):
            results.append({"ticketId": raw, "status": ticket["status"]})
        else:
            append(data, ticket, "DELETE", "DELETION_PENDING", now=now)
            data["deletions"].append([ticket["ticketId"], now])
            results.append({"ticketId": raw, "status": "DELETION_PENDING"})
    return results


@batch_endpoint("tickets")
def control(state: SandboxState, items: list, now: float) -> list[dict]:
    results = []
    data = state.data
    for raw in items:
        raw = raw if isinstance(raw, dict) else {}
        tid = raw.get("ticketId")
        try:
            _datetime(raw, "controlledAt", "", required=True)
            ticket = data["tickets"].get(_id(tid, "ticketId"))
            if ticket is None:
                raise Invalid("ticketId", "unknown ticket")
            if ticket["status"] in ("DELETION_PENDING", "DELETED"):
                raise Invalid("ticketId", f"the ticket is {ticket['status']}")
        except Invalid as exc:
            results.append({"ticketId": tid, "status": "REJECTED", "error": str(exc), "field": exc.field})
            continue
        if state.faults.refuses(tid):
            results.append({"ticketId": tid, "status": "REJECTED",
                            "error": REFUSED, "field": None})
            continue
        if ticket["status"] != "CONTROLLED":
            append(data, ticket, "BURN", "CONTROLLED", now=now)
            ticket["controlledAt"] = raw["controlledAt"]
        results.append({"ticketId": tid, "status": "CONTROLLED"})
    return results


async def status_logs(request: Request) -> Response:
    if denied := _denied(request):
        return denied
    params = request.query_params
    try:
        limit = int(params.get("limit") or DEFAULT_LOG_LIMIT)
    except ValueError:
        return error(400, "limit: expected an integer", "limit")
    if not 1 <= limit <= MAX_LOG_LIMIT:
        return error(400, f"limit: between 1 and {MAX_LOG_LIMIT}", "limit")
    key = params.get("paginationKey") or ""
    try:
        start = decode_key(key) if key else 0
    except Invalid as exc:
        return error(400, str(exc), exc.field)
    state = _state(request)
    with state.lock:
        if advance(state.data):
            state.save()
        log = state.data["log"]
        if start > len(log):
            return error(400, "paginationKey: not a key this partner gave", "paginationKey")
        page = log[start:start + limit]
    return json_response({"logs": [render(e) for e in page], "nextPageKey": encode_key(start + len(page))})


async def get_ticket(request: Request) -> Response:
    if denied := _denied(request):
        return denied
    state = _state(request)
    with state.lock:
        if advance(state.data):
            state.save()
        ticket = state.data["tickets"].get(request.path_params["ticketId"])
        body = ticket_view(ticket) if ticket else None
    return json_response(body) if body else error(404, "unknown ticket")


async def put_privilege(request: Request) -> Response:
    if denied := _denied(request):
        return denied
    definition_id = request.path_params["definitionId"]
    try:
        body = await _json_object(request)
        _text(body, "name", "", required=True)
        kind = body.get("type")
        if kind not in ("MEMBERSHIP", "SEASON_CARD"):
            raise Invalid("type", "expected MEMBERSHIP or SEASON_CARD")
        start = _datetime(body, "validFrom", "")
        end = _datetime(body, "validUntil", "")
        if start and end and end < start:
            raise Invalid("validUntil", "before validFrom")
    except Invalid as exc:
        return error(400, str(exc), exc.field)
    definition = {"definitionId": definition_id, "name": body["name"], "type": kind,
                  "validFrom": body.get("validFrom"), "validUntil": body.get("validUntil")}
    state = _state(request)
    with state.lock:
        privileges = state.data["privileges"]
        created = definition_id not in privileges
        if created:
            privileges[definition_id] = {"definition": definition, "cards": {}}
        else:
            privileges[definition_id]["definition"] = definition
        state.save()
    return json_response({"definitionId": definition_id, "created": created, "definition": definition},
                         201 if created else 200)


def validate_card(card: Any, tickets: dict) -> str:
    if not isinstance(card, dict):
        raise Invalid("card", "expected an object")
    card_id = _id(card.get("cardId"), "cardId")
    _text(card, "barcode", "", required=True, max_len=128)
    linked = card.get("ticketIds", [])
    if not isinstance(linked, list):
        raise Invalid("ticketIds", "expected a list of ticket ids")
    for i, tid in enumerate(linked):
        if _id(tid, f"ticketIds[{i}]") not in tickets:
            raise Invalid(f"ticketIds[{i}]", "unknown ticket (inject it first)")
    spectator = card.get("spectatorDetails")
    if spectator is not None:
        if not isinstance(spectator, dict):
            raise Invalid("spectatorDetails", "expected an object")
        _pattern(spectator, "email", "spectatorDetails.", _EMAIL, "an e-mail address")
    return card_id


async def inject_cards(request: Request) -> Response:
    if denied := _denied(request):
        return denied
    state = _state(request)
    definition_id = request.path_params["definitionId"]
    if definition_id not in state.data["privileges"]:
        return error(404, "unknown privilege definition (PUT /organizer/privileges/{definitionId} first)")
    items = await _batch(request, "cards")
    if isinstance(items, Response):
        return items
    now = time.time()
    results = []
    with state.lock:
        cards, tickets = state.data["privileges"][definition_id]["cards"], state.data["tickets"]
        for raw in items:
            try:
                card_id = validate_card(raw, tickets)
            except Invalid as exc:
                cid = raw.get("cardId") if isinstance(raw, dict) else None
                results.append({"cardId": cid, "status": "REJECTED", "error": str(exc), "field": exc.field})
                continue
            if state.faults.refuses(card_id):
                results.append({"cardId": raw["cardId"], "status": "REJECTED",
                                "error": REFUSED, "field": None})
            elif card_id in cards:
                results.append({"cardId": raw["cardId"], "status": "ALREADY_INJECTED"})
            else:
                spectator = raw.get("spectatorDetails")
                cards[card_id] = {"cardId": card_id, "barcode": raw["barcode"],
                                  "ticketIds": [str(t) for t in raw.get("ticketIds", [])],
                                  "ownerId": owner_of(spectator.get("email") if spectator else None),
                                  "holder": holder_of(spectator), "transferable": False, "injectedAt": _iso(now)}
                results.append({"cardId": raw["cardId"], "status": "INJECTED"})
        state.save()
    return json_response({"results": results})


# ---------------------------------------------------------------- sandbox-only wallet events

def _wallet_ticket(state: SandboxState, ticket_id: str) -> dict | Response:
    ticket = state.data["tickets"].get(ticket_id)
    if ticket is None:
        return error(404, "unknown ticket")
    return ticket


async def sandbox_receive(request: Request) -> Response:
    """The owner opened the app: INJECTED → RECEIVED (logged TRANSFER within the same wallet)."""
    state = _state(request)
    with state.lock:
        ticket = _wallet_ticket(state, request.path_params["ticketId"])
        if isinstance(ticket, Response):
            return ticket
        if ticket["status"] == "INJECTED":
            append(state.data, ticket, "TRANSFER", "RECEIVED", now=time.time())
        elif ticket["status"] not in ("RECEIVED", "ACTIVATED", "TRANSFERRED"):
            return error(409, f"the ticket is {ticket['status']}")
        state.save()
        return json_response(ticket_view(ticket))


async def sandbox_activate(request: Request) -> Response:
    """The barcode becomes visible: → ACTIVATED (via RECEIVED when still INJECTED), logged TRANSFER."""
    state = _state(request)
    now = time.time()
    with state.lock:
        ticket = _wallet_ticket(state, request.path_params["ticketId"])
        if isinstance(ticket, Response):
            return ticket
        status = ticket["status"]
        if status == "INJECTED":
            append(state.data, ticket, "TRANSFER", "RECEIVED", now=now)
            status = "RECEIVED"
        if status in ("RECEIVED", "TRANSFERRED"):
            append(state.data, ticket, "TRANSFER", "ACTIVATED", now=now)
        elif status != "ACTIVATED":
            return error(409, f"the ticket is {status}")
        state.save()
        return json_response(ticket_view(ticket))


async def sandbox_transfer(request: Request) -> Response:
    """A fan passes the ticket to a friend: TRANSFER_PENDING then TRANSFERRED (two TRANSFER entries)."""
    state = _state(request)
    try:
        body = await _json_object(request)
        _text(body, "toOwner", "", required=True, max_len=64)
        holder = body.get("holder")
        if holder is not None and not isinstance(holder, dict):
            raise Invalid("holder", "expected an object {firstName, lastName, email}")
    except Invalid as exc:
        return error(400, str(exc), exc.field)
    now = time.time()
    with state.lock:
        ticket = _wallet_ticket(state, request.path_params["ticketId"])
        if isinstance(ticket, Response):
            return ticket
        if ticket["status"] not in ("INJECTED", "RECEIVED", "ACTIVATED", "TRANSFERRED"):
            return error(409, f"the ticket is {ticket['status']}")
        append(state.data, ticket, "TRANSFER", "TRANSFER_PENDING", now=now)
        append(state.data, ticket, "TRANSFER", "TRANSFERRED", to_owner=body["toOwner"], holder=holder, now=now)
        state.save()
        return json_response(ticket_view(ticket))


def seed(state: SandboxState, payload: dict) -> None:
    data = state.data
    if "api_key" in payload:
        data["api_key"] = str(payload["api_key"])
    for key in ("deletion_delay_s", "tx_confirm_s", "tx_ko_rate"):
        if key in payload:
            data[key] = float(payload[key])
    for event_id, event in payload.get("events", {}).items():
        data["events"][str(event_id)] = {"eventId": str(event_id), **event}


def inspect(state: SandboxState) -> dict:
    data = state.data
    advance(data)
    counts = dict.fromkeys(STATUSES, 0)
    for ticket in data["tickets"].values():
        counts[ticket["status"]] += 1
    return {"api_key": data["api_key"], "deletion_delay_s": data["deletion_delay_s"],
            "tx_confirm_s": data["tx_confirm_s"], "tx_ko_rate": data["tx_ko_rate"],
            "counts": counts, "log_size": len(data["log"]), "events": data["events"],
            "privileges": data["privileges"], "tickets": {k: ticket_sent(t) for k, t in data["tickets"].items()}}


async def sandbox_counts(request: Request) -> Response:
    """Counts only (cheap with 10⁵ tickets): {counts, tickets, log_size}."""
    state = _state(request)
    with state.lock:
        advance(state.data)
        counts = dict.fromkeys(STATUSES, 0)
        for ticket in state.data["tickets"].values():
            counts[ticket["status"]] += 1
        body = {"counts": counts, "tickets": len(state.data["tickets"]), "log_size": len(state.data["log"])}
    return json_response(body)


def create_app(state_file: str | None = None):
    routes = [
        Route("/organizer/events/{eventId}", put_event, methods=["PUT"]),
        Route("/organizer/tickets", inject, methods=["POST"]),
        Route("/organizer/tickets/delete", delete, methods=["POST"]),
        Route("/organizer/tickets/control", control, methods=["POST"]),
        Route("/organizer/tickets/{ticketId}", get_ticket, methods=["GET"]),
        Route("/organizer/report/ticket-status-logs", status_logs, methods=["GET"]),
        Route("/organizer/privileges/{definitionId}", put_privilege, methods=["PUT"]),
        Route("/organizer/privileges/{definitionId}/cards", inject_cards, methods=["POST"]),
        Route("/_sandbox/counts", sandbox_counts, methods=["GET"]),
        Route("/_sandbox/tickets/{ticketId}/receive", sandbox_receive, methods=["POST"]),
        Route("/_sandbox/tickets/{ticketId}/activate", sandbox_activate, methods=["POST"]),
        Route("/_sandbox/tickets/{ticketId}/transfer", sandbox_transfer, methods=["POST"]),
    ]
    return framework.create_app("tixngo", routes, initial=initial, state_file=state_file, seed=seed,
                                inspect=inspect)
