"""The jobs endpoints against their own OpenAPI document (schemathesis): for
generated requests, valid and invalid, never a 5xx, and every answer conforms
to the documented schema. No answer ever contains the secret."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from passgate.jobs import services
from passgate.orgs.services import issue_api_token
from passgate.wsgi import application

from .conftest import ECHO_KEY

config = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": 6, "database": "none", "deterministic": True},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=config).include(tag="jobs")

CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]


@pytest.fixture
def bearer(admin_actor, echo_schedule):
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    services.create_interface(admin_actor, type="TIXNGO", name="Wallet", secret=ECHO_KEY,
                              url="https://tixngo.invalid/organizer/tickets")
    _, plaintext = issue_api_token(admin_actor, "schemathesis", "ADMINISTRATOR")
    yield {"Authorization": f"Bearer {plaintext}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_jobs_api_conforms_to_its_schema(case, bearer):
    response = case.call_and_validate(headers=bearer, checks=CHECKS)
    assert ECHO_KEY not in response.text
