"""Generated requests (valid and invalid) against every access endpoint, with an
organisation token and with a device token: never a 5xx."""

from __future__ import annotations

import bad_inputs
import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings

from passgate.wsgi import application

from .conftest import Venue

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": 5, "database": "none", "deterministic": True},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=config).include(tag=["access"])

CHECKS = [schemathesis.checks.not_a_server_error]



@pytest.fixture
def tokens(catalogue, same_connection):
    from passgate.orgs.services import issue_api_token

    venue = Venue(catalogue)
    venue.sell_tonight(2)
    _, org_token = issue_api_token(venue.actor, "schemathesis", "ADMINISTRATOR")
    return {"org": org_token, "device": venue.token}


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@pytest.mark.django_db
def test_access_api_never_fails(case, tokens):
    for token in (tokens["org"], tokens["device"]):
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


# ---------------------------------------------------------------- the input classes schemathesis does not generate
#
# Every access body, with the token its endpoint takes, gets a lone surrogate, NUL, a list
# and an object in each text property, an unknown value in each enumeration, and an
# oversized body. The imports carry free-form items (`list[dict]`): their fields are
# cleaned by the service, so they are named here with a valid item to start from.

DOC = bad_inputs.openapi()
OPERATIONS = bad_inputs.operations(DOC, tags={"access"})
SCANNED_AT = "2026-01-01T10:00:00Z"
FREE_FORM = {
    "POST /api/v1/access/controls/import": {"controls": {
        "item": {"barcode": "X1", "reference": "r1", "scanned_at": SCANNED_AT},
        "text": {"barcode": False, "reference": False, "scanned_at": False, "sector": False, "gate": False,
                 "decision": True, "direction": True, "reason": True}}},
    "POST /api/v1/access/scans/offline": {"scans": {
        "item": {"barcode": "X1", "nonce": "n1", "scanned_at": SCANNED_AT, "decision": "GRANTED"},
        "text": {"barcode": False, "nonce": False, "scanned_at": False, "gate": False, "decision": True,
                 "direction": True, "reason": True}}},
    "POST /api/v1/access/external-barcodes/import": {"barcodes": {
        "item": {"barcode": "EXT1", "season_code": "S", "product_code": "P", "status": "BLOCKED"},
        "text": {"barcode": False, "season_code": False, "product_code": False, "category_code": False,
                 "block_reason": False, "valid_from": False, "status": True}}},
}


def test_the_walk_reaches_every_access_body():
    ids = {op.id for op in OPERATIONS}
    assert set(FREE_FORM) <= ids and len(ids) >= 12
    assert {op.security for op in OPERATIONS} == {"TokenAuth", "DeviceAuth", None}


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.id for op in OPERATIONS])
@pytest.mark.django_db
def test_bad_input_classes_in_every_access_body(op, tokens, settings):
    token = tokens["device"] if op.security == "DeviceAuth" else tokens["org"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = bad_inputs.fill_path(op.path, {"code": "MAIN", "device_id": 1, "rule_id": 1})
    problems: list[str] = []
    for case in bad_inputs.cases(DOC, op, FREE_FORM.get(op.id), limit=settings.PASSGATE_API_MAX_BODY_BYTES):
        problems += bad_inputs.check(bad_inputs.send(client, op.method, url, case), case, op.id)
    assert not problems, "\n".join(problems)
