"""TIXnGO in the API (/api/v1/tixngo/…): template preview, and the wallet's view of tickets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from passgate.apikit import Id, Limit, Text, paginate, responses

from . import services

PREFIX = "/v1/tixngo/"
router = Router(tags=["tixngo"])


class PreviewIn(Schema):
    ticket_id: Id
    templates: dict[Annotated[Text, Field(max_length=40)], Annotated[Text, Field(max_length=5000)]] | None = Field(
        None, description="field → template; absent: the templates saved on the organisation's interface")


class PreviewOut(Schema):
    ticket_id: int
    templates: dict[str, str]
    rendered: dict[str, str | None]
    event: dict[str, Any]
    ticket: dict[str, Any]
    variables: dict[str, dict[str, Any]]


class WalletLogOut(Schema):
    at: dt.datetime
    action: str
    from_status: str
    to_status: str
    from_owner: str
    to_owner: str
    tx_hash: str
    tx_state: str


class WalletOut(Schema):
    ticket_id: int
    barcode: str
    ticket_status: str
    wallet_status: str | None
    owner: str
    holder: dict[str, Any]
    injected_at: dt.datetime | None
    updated_at: dt.datetime | None
    last_error: str
    log: list[WalletLogOut] | None = None


class WalletPage(Schema):
    items: list[WalletOut]
    next_cursor: str | None = None


class WalletQuery(Schema):
    wallet_status: Annotated[Text, Field(max_length=20)] | None = None
    cursor: Annotated[Text, Field(max_length=100)] | None = None
    limit: Limit = 100


@router.post("/templates/preview", response=responses(PreviewOut), operation_id="tixngo_template_preview",
             summary="Render ticket templates against a real ticket (sends nothing)")
def template_preview(request: HttpRequest, payload: PreviewIn) -> Any:
    return services.preview(request.auth, payload.ticket_id, payload.templates)


@router.get("/tickets/{id}/wallet", response=responses(WalletOut), operation_id="tixngo_ticket_wallet",
            summary="A ticket as the TIXnGO wallet has it: status, owner, holder, blockchain log")
def ticket_wallet(request: HttpRequest, id: Id) -> Any:
    return services.wallet_of(request.auth, id)


@router.get("/tickets", response=responses(WalletPage), operation_id="tixngo_wallet_tickets",
            summary="Tickets in the TIXnGO wallet, filtered by wallet status")
def wallet_tickets(request: HttpRequest, query: Query[WalletQuery]) -> Any:
    qs = services.wallet_tickets(request.auth, query.wallet_status)
    return paginate(qs, query.cursor, query.limit, lambda w: services.wallet_out(w.ticket, w, None))
