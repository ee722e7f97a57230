"""The jobs room's part of a ticket's trail: every partner job item that touched it (function,
run, outcome, the partner's words). Registered in JobsConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable

from passgate.orgs.models import Organisation
from passgate.sales.timeline import TimelineEvent, admin_link

from .models import ExecutionItem


def job_item_events(organisation: Organisation, ticket_ids: list[int]) -> Iterable[TimelineEvent]:
    items = (ExecutionItem.objects.filter(organisation=organisation, ticket_id__in=ticket_ids)
             .select_related("execution__interface").order_by("at", "id"))
    for item in items:
        run = item.execution
        words = f": {item.partner_code} {item.message}".rstrip() if (item.partner_code or item.message) else ""
        yield TimelineEvent(
            at=item.at, kind="partner", title=f"{run.function} {item.outcome}{words}",
            actor=f"interface {run.interface.name}", ticket_id=item.ticket_id,
            link=admin_link("jobs_execution_change", run.pk),
            detail={"function": run.function, "execution_id": run.pk, "interface": run.interface.name,
                    "outcome": item.outcome, "partner_code": item.partner_code, "message": item.message,
                    "object_ref": item.object_ref})
