"""The guest endpoints against their own OpenAPI document (schemathesis): for generated requests,
valid and invalid, never a 5xx, and every answer conforms to the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from passgate.orgs.services import issue_api_token
from passgate.wsgi import application

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": 6, "database": "none", "deterministic": True},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=config).include(tag="guest")

CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]


@pytest.fixture
def bearer(hotel, same_connection):
    hotel.issue(user_id="ana@example.org")
    _, plaintext = issue_api_token(hotel.actor, "schemathesis", "ADMINISTRATOR")
    return {"Authorization": f"Bearer {plaintext}"}


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_guest_api_conforms_to_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)


def test_the_issue_operation_is_documented():
    document = schema.raw_schema
    issue = document["paths"]["/api/v1/guest/tickets"]["post"]
    ref = issue["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = document["components"]["schemas"][ref]
    assert body["examples"][0]["client_reference"]
    undocumented = [name for name, prop in body["properties"].items() if not prop.get("description")]
    assert not undocumented, undocumented
