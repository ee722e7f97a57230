"""Role limits through the API, for each role, on representative endpoints of
each kind: read, sell, ticket actions, contacts, catalogue write, tokens."""

from __future__ import annotations

import pytest

from passgate.orgs.models import Role
from passgate.orgs.permissions import Permission, role_allows

from .conftest import api_as


def _sale(t):
    return {"channel_id": t.cat.box_office.pk,
            "lines": [{"product_id": t.cat.pass_product.pk, "tariff_id": t.cat.pass_tariff.pk}]}


# (name, permission needed, method, path, body factory)
ENDPOINTS = [
    ("read tickets", Permission.VIEW, "get", lambda t: "/tickets", None),
    ("read a ticket", Permission.VIEW, "get", lambda t: f"/tickets/{t.tickets[0].pk}", None),
    ("read orders", Permission.VIEW, "get", lambda t: "/orders", None),
    ("read the catalogue", Permission.VIEW, "get", lambda t: "/catalog/products", None),
    ("read contacts", Permission.VIEW, "get", lambda t: "/contacts", None),
    ("sell", Permission.SELL, "post", lambda t: "/orders", _sale),
    ("print", Permission.SELL, "post", lambda t: f"/tickets/{t.tickets[0].pk}/print", None),
    ("cancel a ticket", Permission.SELL, "post", lambda t: f"/tickets/{t.tickets[1].pk}/cancel", None),
    ("cancel an order", Permission.SELL, "post", lambda t: f"/orders/{t.order.pk}/cancel", None),
    ("download tickets", Permission.SELL, "get", lambda t: f"/orders/{t.order.pk}/pdf", None),
    ("e-mail tickets", Permission.SELL, "post", lambda t: f"/orders/{t.order.pk}/send", None),
    ("create a contact", Permission.MANAGE_CONTACTS, "post", lambda t: "/contacts", lambda t: {"last_name": "New"}),
    ("change a contact", Permission.MANAGE_CONTACTS, "patch", lambda t: f"/contacts/{t.buyer.pk}",
     lambda t: {"first_name": "Augusta"}),
    ("create a season", Permission.MANAGE_CATALOG, "post", lambda t: "/catalog/seasons",
     lambda t: {"code": "S99", "name": "New season"}),
    ("change a tariff", Permission.MANAGE_CATALOG, "patch", lambda t: f"/catalog/tariffs/{t.cat.full_price.pk}",
     lambda t: {"price": "1.00"}),
    ("delete a category", Permission.MANAGE_CATALOG, "delete", lambda t: f"/catalog/categories/{t.cat.category.pk}",
     None),
    ("list tokens", Permission.MANAGE_ORGANISATION, "get", lambda t: "/tokens", None),
    ("create a token", Permission.MANAGE_ORGANISATION, "post", lambda t: "/tokens",
     lambda t: {"name": "more", "role": "READ_ONLY"}),
    ("revoke a token", Permission.MANAGE_ORGANISATION, "post", lambda t: f"/tokens/{t.token.pk}/revoke", None),
]


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("what", "permission", "method", "path", "body"), ENDPOINTS,
                         ids=[e[0] for e in ENDPOINTS])
def test_role_limits(mine, role, what, permission, method, path, body):
    client = api_as(mine.actor, role, name=f"{role.lower()}-token")
    status, answer = client.call(method, path(mine), body(mine) if body else None)
    if role_allows(role, permission):
        # allowed: the request goes through (409 = a business refusal, not a permission one)
        assert status in (200, 201, 202, 204, 409), (status, answer)
        if status == 409:
            assert answer["code"] != "forbidden"
    else:
        assert status == 403, (status, answer)
        assert answer["code"] == "forbidden" and answer["message"] and "field" in answer
        assert answer["found"] == role


def test_the_matrix_is_what_the_brief_says():
    assert not role_allows(Role.READ_ONLY, Permission.SELL)
    assert role_allows(Role.BOX_OFFICE, Permission.SELL) and role_allows(Role.BOX_OFFICE, Permission.MANAGE_CONTACTS)
    assert not role_allows(Role.BOX_OFFICE, Permission.MANAGE_CATALOG)
    assert not role_allows(Role.BOX_OFFICE, Permission.MANAGE_ORGANISATION)
    assert role_allows(Role.ACCESS_CONTROL, Permission.VIEW) and not role_allows(Role.ACCESS_CONTROL, Permission.SELL)
    assert all(role_allows(Role.ADMINISTRATOR, p) for p in Permission)


def test_forbidden_comes_before_not_found(mine, theirs):
    """A reader learns nothing from a write: 403 whether the object exists or not."""
    reader = api_as(mine.actor, Role.READ_ONLY, name="reader")
    for path in (f"/tickets/{theirs.tickets[0].pk}/print", "/tickets/999999/print",
                 f"/tickets/{mine.tickets[0].pk}/print"):
        assert reader.post(path)[0] == 403


def test_every_role_may_ask_who_it_is(mine):
    for role in Role.values:
        status, me = api_as(mine.actor, role, name=f"me-{role}").get("/me")
        assert status == 200 and me["role"] == role
