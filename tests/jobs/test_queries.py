"""The jobs lists run a fixed number of queries whatever the number of rows (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from passgate.jobs import services
from passgate.jobs.models import Execution, ExecutionItem, PartnerCall


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    assert response.json()["items"]
    return len(ctx.captured_queries)


def _add(admin_actor, n: int, start: int) -> Execution:
    execution = None
    for i in range(start, start + n):
        interface = services.create_interface(admin_actor, type="ECHO", name=f"Echo {i}", url="http://127.0.0.1:9/",
                                              secret="k")
        schedule = services.create_schedule(admin_actor, interface=interface, function="ECHO_TICKETS")
        execution = Execution.objects.create(organisation=admin_actor.organisation, schedule=schedule,
                                             interface=interface, function="ECHO_TICKETS", started_at=timezone.now(),
                                             status="OK", ended_at=timezone.now())
    assert execution is not None
    return execution


def _fill(admin_actor, execution: Execution, n: int) -> None:
    now = timezone.now()
    ExecutionItem.objects.bulk_create(ExecutionItem(organisation=admin_actor.organisation, execution=execution,
                                                    object_ref=f"B{i}", outcome="DONE", at=now) for i in range(n))
    PartnerCall.objects.bulk_create(PartnerCall(organisation=admin_actor.organisation, execution=execution, at=now,
                                                method="POST", path="/batch", status=200) for _ in range(n))


@pytest.mark.parametrize("path", ["/api/v1/interfaces", "/api/v1/schedules", "/api/v1/executions",
                                  "items", "calls"])
def test_jobs_lists_do_not_grow_with_the_rows(admin_actor, api_client, path):
    execution = _add(admin_actor, 1, 0)
    _fill(admin_actor, execution, 1)
    url = f"/api/v1/executions/{execution.pk}/{path}" if not path.startswith("/") else path
    api_client.get("/api/v1/interfaces")  # the token's first use of the minute writes last_used_at
    few = _queries(api_client, url + "?limit=100")
    _add(admin_actor, 6, 1)
    _fill(admin_actor, execution, 6)
    Execution.objects.filter(schedule__isnull=False).update(status="WARNING")
    many = _queries(api_client, url + "?limit=100")
    assert many == few, (path, few, many)
