"""Roles limit what services allow; tokens are stored as hashes, shown once,
revocable; every service change lands in the audit log with before and after."""

from __future__ import annotations

import pytest

from passgate.catalog import services as catalog
from passgate.catalog.models import Season
from passgate.errors import Forbidden, NotFound
from passgate.orgs.models import ApiToken, AuditEntry, Role
from passgate.orgs.services import Actor, authenticate_token, hash_token, issue_api_token, revoke_api_token
from passgate.sales import services as sales


def actor_with(org, role):
    return Actor(organisation=org, role=role, label=f"{role.lower()}-user")


def test_token_is_shown_once_and_stored_as_hash(admin_actor):
    token, plaintext = issue_api_token(admin_actor, "scanner app", Role.ACCESS_CONTROL)
    stored = ApiToken.objects.get(pk=token.pk)
    assert plaintext not in str(stored.__dict__.values())
    assert stored.token_hash == hash_token(plaintext)
    actor = authenticate_token(plaintext)
    assert actor.organisation == admin_actor.organisation and actor.role == Role.ACCESS_CONTROL
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_revoked_token_no_longer_authenticates(admin_actor):
    token, plaintext = issue_api_token(admin_actor, "old", Role.READ_ONLY)
    revoke_api_token(admin_actor, token)
    assert authenticate_token(plaintext) is None
    assert authenticate_token(plaintext[:-1] + "x") is None
    assert authenticate_token("") is None


def test_only_administrators_manage_tokens(org):
    for role in (Role.BOX_OFFICE, Role.ACCESS_CONTROL, Role.READ_ONLY):
        with pytest.raises(Forbidden) as refused:
            issue_api_token(actor_with(org, role), "x", Role.ADMINISTRATOR)
        assert refused.value.found == role


def test_revoking_another_organisations_token_is_not_found(admin_actor, other_org):
    foreign, _ = issue_api_token(Actor.system(other_org), "theirs", Role.READ_ONLY)
    with pytest.raises(NotFound):
        revoke_api_token(admin_actor, foreign)
    assert ApiToken.objects.get(pk=foreign.pk).revoked_at is None


@pytest.mark.parametrize("role, may_sell, may_edit_catalog", [
    (Role.ADMINISTRATOR, True, True),
    (Role.BOX_OFFICE, True, False),
    (Role.ACCESS_CONTROL, False, False),
    (Role.READ_ONLY, False, False),
])
def test_roles_limit_selling_and_catalogue(catalogue, org, role, may_sell, may_edit_catalog):
    actor = actor_with(org, role)
    line = sales.SaleLine(product=catalogue.concert, tariff=catalogue.full_price, performance=catalogue.performance)
    request = sales.SaleRequest(channel=catalogue.box_office, lines=[line])
    if may_sell:
        assert sales.sell(actor, request).tickets.count() == 1
    else:
        with pytest.raises(Forbidden):
            sales.sell(actor, request)
    if may_edit_catalog:
        catalog.create(actor, Season, code=f"X{role}", name="x")
    else:
        with pytest.raises(Forbidden):
            catalog.create(actor, Season, code=f"X{role}", name="x")
        assert not Season.objects.filter(code=f"X{role}").exists()


def test_audit_log_records_who_what_before_and_after(catalogue):
    ticket = catalogue.sell_concert().tickets.get()
    sales.print_ticket(catalogue.actor, ticket, catalogue.desk)
    entry = AuditEntry.objects.filter(object_type="sales.ticket", object_id=str(ticket.pk)).get()
    assert entry.action == "print" and entry.actor == "test-admin"
    assert entry.before["status"] == "NOT_PRINTED" and entry.after["status"] == "PRINTED"
    catalog.update(catalogue.actor, catalogue.full_price, price="35.00")
    change = AuditEntry.objects.filter(object_type="catalog.tariff", action="update").get()
    assert change.before["price"] == "30.00" and change.after["price"] == "35.00"


def test_audit_never_stores_a_token_hash(admin_actor):
    issue_api_token(admin_actor, "secret-holder", Role.READ_ONLY)
    entry = AuditEntry.objects.get(action="issue_token")
    assert entry.after["token_hash"] == "***"
