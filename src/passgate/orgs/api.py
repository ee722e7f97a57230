"""Organisation API (/api/v1/…): who am I, and API tokens (administrators only).
A token's plaintext appears once, in the answer to its creation."""

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from passgate.apikit import Id, Limit, Text, local, paginate, responses

from .models import ApiToken, Role
from .permissions import ROLE_PERMISSIONS, Permission
from .services import Actor, issue_api_token, revoke_api_token, scoped_get

router = Router(tags=["organisation"])

RoleName = Literal[tuple(Role.values)]  # type: ignore[valid-type]


class OrganisationOut(Schema):
    id: int
    code: str
    name: str
    time_zone: str
    currency: str


class TokenOut(Schema):
    id: int
    name: str
    role: str
    prefix: str = Field(description="first characters of the token, to recognise it")
    active: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the bearer token itself: shown this once, never again")


class TokenPage(Schema):
    items: list[TokenOut]
    next_cursor: str | None = None


class MeOut(Schema):
    organisation: OrganisationOut
    role: str
    permissions: list[str]
    token: TokenOut | None


class TokenIn(Schema):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    role: RoleName


class TokenQuery(Schema):
    active: bool | None = Field(None, description="true: only tokens not revoked; false: only revoked ones")
    limit: Limit = 100
    cursor: Text | None = None


def token_out(token: ApiToken, org) -> dict[str, Any]:
    return {
        "id": token.pk, "name": token.name, "role": token.role, "prefix": token.prefix,
        "active": token.revoked_at is None, "created_at": local(token.created_at, org),
        "revoked_at": local(token.revoked_at, org), "last_used_at": local(token.last_used_at, org),
    }


@router.get("/me", response=responses(MeOut), operation_id="me",
            summary="The organisation and role of the token")
def me(request: HttpRequest) -> Any:
    actor: Actor = request.auth
    org = actor.organisation
    return {
        "organisation": {"id": org.pk, "code": org.code, "name": org.name, "time_zone": org.time_zone,
                         "currency": org.currency},
        "role": actor.role,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS.get(actor.role, ())),
        "token": token_out(actor.token, org) if actor.token else None,
    }


@router.get("/tokens", response=responses(TokenPage), operation_id="list_tokens",
            summary="List the organisation's API tokens (administrators)")
def list_tokens(request: HttpRequest, query: Query[TokenQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_ORGANISATION)
    qs = ApiToken.objects.filter(organisation=actor.organisation)
    if query.active is not None:
        qs = qs.filter(revoked_at__isnull=query.active)
    return paginate(qs, query.cursor, query.limit, lambda t: token_out(t, actor.organisation))


@router.post("/tokens", response=responses(TokenCreatedOut, 201), operation_id="create_token",
             summary="Create an API token; its plaintext is in this answer only (administrators)")
def create_token(request: HttpRequest, payload: TokenIn) -> Any:
    actor: Actor = request.auth
    token, plaintext = issue_api_token(actor, payload.name, payload.role)
    return Status(201, {**token_out(token, actor.organisation), "token": plaintext})


@router.get("/tokens/{id}", response=responses(TokenOut), operation_id="get_token",
            summary="Get an API token (administrators)")
def get_token(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_ORGANISATION)
    return token_out(scoped_get(actor, ApiToken, field="id", pk=id), actor.organisation)


@router.post("/tokens/{id}/revoke", response=responses(TokenOut), operation_id="revoke_token",
             summary="Revoke an API token for good (administrators; revoking twice is harmless)")
def revoke_token(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_ORGANISATION)
    token = revoke_api_token(actor, scoped_get(actor, ApiToken, field="id", pk=id))
    return token_out(token, actor.organisation)
