"""Property-based tests of the API against its own OpenAPI document
(schemathesis): for generated requests, valid and invalid, never a 5xx, and
every answer — errors included — conforms to the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from passgate.wsgi import application

from .conftest import api_as

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": 6, "database": "none", "deterministic": True},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})
# The core's endpoints (organisation, catalogue, sales); the access and jobs rooms test their own.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=config).include(
    tag=["organisation", "catalogue", "sales"])

CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]



@pytest.fixture
def bearer(mine, theirs, same_connection):
    return {"Authorization": f"Bearer {api_as(mine.actor, name='schemathesis').token}"}


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
