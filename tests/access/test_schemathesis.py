"""Generated requests (valid and invalid) against every access endpoint, with an
organisation token and with a device token: never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
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
