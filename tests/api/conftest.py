"""Fixtures of the API tests: two organisations, each with a catalogue, a
contingent, contacts, an order with tickets, and bearer clients by role."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import Catalogue
from django.test import Client

from passgate.catalog import services as catalog
from passgate.catalog.models import Contingent
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, issue_api_token
from passgate.sales import services as sales


class Api:
    """A bearer client that speaks JSON and returns (status, body)."""

    def __init__(self, plaintext: str) -> None:
        self.token = plaintext
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    def call(self, method: str, path: str, body: Any = None, **query: Any):
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        kwargs: dict[str, Any] = {}
        if method in ("get", "delete"):
            kwargs["data"] = query or None
        else:
            kwargs["data"] = "" if body is None else json.dumps(body)
            kwargs["content_type"] = "application/json"
        response = getattr(self.client, method)(url, **kwargs)
        data = response.json() if response.content and response["Content-Type"].startswith("application/json") \
            else None
        return response.status_code, data

    def get(self, path: str, **query: Any):
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None):
        return self.call("post", path, body)

    def patch(self, path: str, body: Any = None):
        return self.call("patch", path, body)

    def delete(self, path: str):
        return self.call("delete", path)


def api_as(actor: Actor, role: str = Role.ADMINISTRATOR, name: str = "api-test") -> Api:
    _, plaintext = issue_api_token(actor, name, role)
    return Api(plaintext)


@dataclass
class Tenant:
    """One organisation with one of everything the API exposes."""

    actor: Actor
    cat: Catalogue
    contingent: Contingent
    buyer: sales.Contact
    beneficiary: sales.Contact
    order: sales.Order
    tickets: list[sales.Ticket]
    token: Any
    api: Api
    ids: dict[str, int] = field(default_factory=dict)


def build_tenant(actor: Actor, prefix: str, earlier_orders: int = 0) -> Tenant:
    cat = Catalogue(actor, prefix=prefix)
    contingent = catalog.create(actor, Contingent, code=f"{prefix}Q1", name="Box quota", channel=cat.box_office,
                                product=cat.concert, performance=cat.performance, quota=50)
    buyer = sales.create_contact(actor, first_name="Ada", last_name=f"{prefix}Lovelace",
                                 email=f"ada{prefix.lower()}@example.org")
    beneficiary = sales.create_contact(actor, first_name="Grace", last_name="Hopper")
    for _ in range(earlier_orders):  # so that this organisation's file numbers differ from the other's
        cat.sell_pass(1)
    order = cat.sell_concert(2, buyer=buyer)
    tickets = list(order.tickets.order_by("pk"))
    token, plaintext = issue_api_token(actor, f"{prefix or 'main'}-admin", Role.ADMINISTRATOR)
    tenant = Tenant(actor=actor, cat=cat, contingent=contingent, buyer=buyer, beneficiary=beneficiary,
                    order=order, tickets=tickets, token=token, api=Api(plaintext))
    tenant.ids = {
        "season": cat.season.pk, "product": cat.concert.pk, "performance": cat.performance.pk,
        "tariff": cat.full_price.pk, "category": cat.category.pk, "channel": cat.box_office.pk,
        "point_of_sale": cat.desk.pk, "contingent": contingent.pk, "contact": buyer.pk, "order": order.pk,
        "ticket": tickets[0].pk, "token": token.pk,
    }
    return tenant


@pytest.fixture
def mine(admin_actor) -> Tenant:
    return build_tenant(admin_actor, "")


@pytest.fixture
def theirs(other_org) -> Tenant:
    return build_tenant(Actor.system(other_org, "other-admin"), "O", earlier_orders=2)


@pytest.fixture
def api(mine) -> Api:
    return mine.api
