"""Property-based tests of the API against its own OpenAPI document
(schemathesis): for generated requests, valid and invalid, never a 5xx, and
every answer — errors included — conforms to the documented schema."""

from __future__ import annotations

import bad_inputs
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


# ---------------------------------------------------------------- the input classes schemathesis does not generate
#
# Lone surrogates, NUL, unknown enum values, a list or an object where text is expected,
# and an oversized body, sent into every text property of every JSON body of the
# document (tags other than access, which tests/access covers with its device token).

DOC = bad_inputs.openapi()
OPERATIONS = bad_inputs.operations(DOC, exclude={"access"})


def test_the_walk_reaches_every_body():
    # If the document changes shape, the walk must not silently find nothing to send.
    assert len(OPERATIONS) >= 20
    texts = {op.id: list(bad_inputs.text_properties(DOC, op.schema)) for op in OPERATIONS}
    assert (("lines", 0, "seat"), False) in texts["POST /api/v1/orders"]
    assert (("payment_mode",), True) in texts["POST /api/v1/orders"]
    assert (("role",), True) in texts["POST /api/v1/tokens"]


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.id for op in OPERATIONS])
def test_bad_input_classes_in_every_body(op, mine, settings):
    url = bad_inputs.fill_path(op.path, {"id": mine.ids["order"], "code": "X"})
    problems: list[str] = []
    for case in bad_inputs.cases(DOC, op, limit=settings.PASSGATE_API_MAX_BODY_BYTES):
        response = bad_inputs.send(mine.api.client, op.method, url, case)
        problems += bad_inputs.check(response, case, op.id)
    assert not problems, "\n".join(problems)
