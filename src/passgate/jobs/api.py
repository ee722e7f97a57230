"""Jobs API (/api/v1/…): interface types, interfaces (the secret is write-only:
no answer ever contains it), schedules, runs, executions and their items."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from passgate.apikit import DateTimeIn, Id, Limit, Text, aware, local, not_null, paginate, responses
from passgate.jobs import registry
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get

from . import services
from .apps import SYSTEM_TYPE
from .models import Execution, ExecutionItem, ExecutionStatus, Interface, PartnerCall, Schedule

router = Router(tags=["jobs"])

Name = Annotated[Text, Field(min_length=1, max_length=120)]


# ---------------------------------------------------------------- schemas

class FunctionOut(Schema):
    name: str
    label: str
    description: str
    default_batch_size: int | None
    max_batch_size: int | None
    uses_watermark: bool
    supports_simulation: bool
    parameters_schema: dict[str, Any]


class InterfaceTypeOut(Schema):
    code: str
    label: str
    one_per_organisation: bool
    secret_label: str
    parameters_schema: dict[str, Any]
    functions: list[FunctionOut]


class InterfaceOut(Schema):
    id: int
    type: str
    name: str
    url: str
    username: str
    has_secret: bool = Field(description="whether a secret is stored; the secret itself is never returned")
    parameters_text: str
    parameters: dict[str, Any]
    notify_emails: list[str]
    notify_on_warning: bool
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class InterfacePage(Schema):
    items: list[InterfaceOut]
    next_cursor: str | None = None


class InterfaceIn(Schema):
    type: Annotated[Text, Field(min_length=1, max_length=40)]
    name: Name
    url: Annotated[Text, Field(max_length=500)] = ""
    username: Annotated[Text, Field(max_length=200)] = ""
    secret: Annotated[Text, Field(max_length=2000, description="write-only")] = ""
    parameters_text: Annotated[Text, Field(max_length=200_000)] = ""
    notify_emails: Annotated[Text, Field(max_length=2000)] = ""
    notify_on_warning: bool = False
    enabled: bool = True


class InterfacePatch(Schema):
    type: Annotated[Text, Field(min_length=1, max_length=40)] | None = None
    name: Name | None = None
    url: Annotated[Text, Field(max_length=500)] | None = None
    username: Annotated[Text, Field(max_length=200)] | None = None
    secret: Annotated[Text, Field(max_length=2000)] | None = Field(
        None, description="write-only; blank or absent keeps the stored secret")
    clear_secret: bool = False
    parameters_text: Annotated[Text, Field(max_length=200000)] | None = None
    notify_emails: Annotated[Text, Field(max_length=2000)] | None = None
    notify_on_warning: bool | None = None
    enabled: bool | None = None


class ConnectionCheckOut(Schema):
    check: str
    ok: bool
    detail: str


class ConnectionOut(Schema):
    ok: bool
    message: str
    checks: list[ConnectionCheckOut]


class ScheduleOut(Schema):
    id: int
    interface_id: int
    function: str
    name: str
    enabled: bool
    frequency_minutes: int
    batch_size: int | None
    parameters_text: str
    parameters: dict[str, Any]
    date_from: dt.datetime | None
    simulation: bool
    next_run_at: dt.datetime | None
    running: bool
    builtin: bool
    watermark: dt.datetime | None
    warnings: list[str]


class StateValueOut(Schema):
    key: str
    value: Any = None
    updated_at: dt.datetime
    execution_id: int | None
    updated_by: str


class ScheduleStateOut(Schema):
    schedule_id: int
    warning: str
    values: list[StateValueOut]


class StateIn(Schema):
    key: Annotated[Text, Field(min_length=1, max_length=80)]
    value: Annotated[Text, Field(max_length=200_000)] | None = Field(
        None, description="the new value as JSON text (parsed strictly); empty or null removes the key")


class SchedulePage(Schema):
    items: list[ScheduleOut]
    next_cursor: str | None = None


class ScheduleIn(Schema):
    interface_id: Id
    function: Annotated[Text, Field(min_length=1, max_length=60)]
    name: Annotated[Text, Field(max_length=120)] = ""
    enabled: bool = True
    frequency_minutes: Annotated[int, Field(ge=1, le=525600)] = 5
    batch_size: Annotated[int, Field(ge=1, le=1000000)] | None = None
    parameters_text: Annotated[Text, Field(max_length=200_000)] = ""
    date_from: DateTimeIn | None = None
    simulation: bool = False


class SchedulePatch(Schema):
    function: Annotated[Text, Field(min_length=1, max_length=60)] | None = None
    name: Annotated[Text, Field(max_length=120)] | None = None
    enabled: bool | None = None
    frequency_minutes: Annotated[int, Field(ge=1, le=525600)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=1000000)] | None = None
    parameters_text: Annotated[Text, Field(max_length=200000)] | None = None
    date_from: DateTimeIn | None = None
    simulation: bool | None = None


class RunIn(Schema):
    date_from: DateTimeIn | None = Field(None, description="a one-off catch-up: handle the tickets updated since "
                                                             "this date (the schedule's position is left as it is)")


class RunQueuedOut(Schema):
    task_id: str
    schedule_id: int


class ExecutionOut(Schema):
    id: int
    schedule_id: int | None
    interface_id: int
    function: str
    status: str
    trigger: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_seconds: float | None
    since: dt.datetime | None
    simulation: bool
    selected: int
    done: int
    failed: int
    skipped: int
    remaining: int | None = Field(None, description="items the selection still held for the next run")
    summary: str
    error: str
    error_cause: str
    notice_status: str
    notice_attempts: int


class ExecutionPage(Schema):
    items: list[ExecutionOut]
    next_cursor: str | None = None


class ExecutionQuery(Schema):
    schedule_id: Id | None = None
    interface_id: Id | None = None
    function: Text | None = None
    status: Literal[tuple(ExecutionStatus.values)] | None = None  # type: ignore[valid-type]
    started_after: DateTimeIn | None = None
    started_before: DateTimeIn | None = None
    barcode: Text | None = Field(None, description="executions that handled this barcode")
    ticket_id: Id | None = None
    limit: Limit = 100
    cursor: Text | None = None


class ItemOut(Schema):
    id: int
    execution_id: int
    ticket_id: int | None
    object_ref: str
    outcome: str
    partner_code: str
    message: str
    at: dt.datetime


class ItemPage(Schema):
    items: list[ItemOut]
    next_cursor: str | None = None


class ItemQuery(Schema):
    outcome: Literal["DONE", "FAILED", "SKIPPED"] | None = None
    barcode: Text | None = None
    ticket_id: Id | None = None
    limit: Limit = 100
    cursor: Text | None = None


class CallOut(Schema):
    id: int
    at: dt.datetime
    method: str
    path: str
    status: int | None
    duration_ms: int
    attempt: int
    error: str


class CallPage(Schema):
    items: list[CallOut]
    next_cursor: str | None = None


class PageQuery(Schema):
    limit: Limit = 100
    cursor: Text | None = None


# ---------------------------------------------------------------- serialisers

def interface_out(i: Interface) -> dict[str, Any]:
    org = i.organisation
    return {"id": i.pk, "type": i.type, "name": i.name, "url": i.url, "username": i.username,
            "has_secret": i.has_secret, "parameters_text": i.parameters_text, "parameters": i.parameters,
            "notify_emails": i.notify_list, "notify_on_warning": i.notify_on_warning, "enabled": i.enabled,
            "created_at": local(i.created_at, org), "updated_at": local(i.updated_at, org)}


def schedule_out(s: Schedule) -> dict[str, Any]:
    org = s.organisation
    return {"id": s.pk, "interface_id": s.interface_id, "function": s.function, "name": s.name,
            "enabled": s.enabled, "frequency_minutes": s.frequency_minutes, "batch_size": s.batch_size,
            "parameters_text": s.parameters_text, "parameters": s.parameters,
            "date_from": local(s.date_from, org), "simulation": s.simulation,
            "next_run_at": local(s.next_run_at, org), "running": bool(s.lease_token),
            "builtin": s.interface.type == SYSTEM_TYPE,
            # annotated by services.schedules_of (one query for the page), else read
            "watermark": local(getattr(s, "last_ok_started_at", None) if hasattr(s, "last_ok_started_at")
                               else services.watermark(s), org),
            "warnings": services.schedule_warnings(s)}


def state_out(schedule: Schedule, values: list) -> dict[str, Any]:
    org = schedule.organisation
    return {"schedule_id": schedule.pk, "warning": services.STATE_WARNING,
            "values": [{"key": v.key, "value": v.value, "updated_at": local(v.updated_at, org),
                        "execution_id": v.execution_id, "updated_by": v.updated_by} for v in values]}


def execution_out(e: Execution) -> dict[str, Any]:
    org = e.organisation
    return {"id": e.pk, "schedule_id": e.schedule_id, "interface_id": e.interface_id, "function": e.function,
            "status": e.status, "trigger": e.trigger, "started_at": local(e.started_at, org),
            "ended_at": local(e.ended_at, org),
            "duration_seconds": e.duration.total_seconds() if e.duration else None,
            "since": local(e.since, org), "simulation": e.simulation, "selected": e.selected, "done": e.done,
            "failed": e.failed, "skipped": e.skipped, "remaining": e.remaining, "summary": e.summary,
            "error": e.error, "error_cause": e.error_cause, "notice_status": e.notice_status,
            "notice_attempts": e.notice_attempts}


def item_out(i: ExecutionItem) -> dict[str, Any]:
    return {"id": i.pk, "execution_id": i.execution_id, "ticket_id": i.ticket_id, "object_ref": i.object_ref,
            "outcome": i.outcome, "partner_code": i.partner_code, "message": i.message,
            "at": local(i.at, i.organisation)}


# ---------------------------------------------------------------- interface types

@router.get("/interface-types", response=responses(list[InterfaceTypeOut]), operation_id="list_interface_types",
            summary="Interface types and their functions, with the JSON schema of their parameters")
def list_interface_types(request: HttpRequest) -> Any:
    request.auth.require(Permission.VIEW)
    out = []
    for code, spec in sorted(registry.types().items()):
        out.append({
            "code": code, "label": spec.label, "one_per_organisation": bool(spec.singleton_group),
            "secret_label": spec.secret_label, "parameters_schema": spec.params_schema.model_json_schema(),
            "functions": [{"name": f.name, "label": f.label, "description": f.description,
                           "default_batch_size": f.default_batch_size, "max_batch_size": f.max_batch_size,
                           "uses_watermark": f.uses_watermark, "supports_simulation": f.supports_simulation,
                           "parameters_schema": f.params_schema.model_json_schema()}
                          for f in sorted(spec.functions.values(), key=lambda f: f.name)],
        })
    return out


# ---------------------------------------------------------------- interfaces

@router.get("/interfaces", response=responses(InterfacePage), operation_id="list_interfaces",
            summary="List the organisation's partner interfaces")
def list_interfaces(request: HttpRequest, query: Query[PageQuery]) -> Any:
    actor: Actor = request.auth
    qs = services.interfaces_of(actor).select_related("organisation")
    return paginate(qs, query.cursor, query.limit, interface_out)


@router.post("/interfaces", response=responses(InterfaceOut, 201), operation_id="create_interface",
             summary="Create a partner interface (its secret is stored encrypted and never returned)")
def create_interface(request: HttpRequest, payload: InterfaceIn) -> Any:
    interface = services.create_interface(request.auth, **payload.dict())
    return Status(201, interface_out(interface))


@router.get("/interfaces/{id}", response=responses(InterfaceOut), operation_id="get_interface",
            summary="Get a partner interface")
def get_interface(request: HttpRequest, id: Id) -> Any:
    request.auth.require(Permission.VIEW)
    return interface_out(scoped_get(request.auth, Interface, field="id", pk=id))


@router.patch("/interfaces/{id}", response=responses(InterfaceOut), operation_id="update_interface",
              summary="Change a partner interface; a blank or absent secret keeps the stored one")
def update_interface(request: HttpRequest, id: Id, payload: InterfacePatch) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_INTERFACES)
    interface = scoped_get(actor, Interface, field="id", pk=id)
    fields = payload.dict(exclude_unset=True)
    secret = fields.pop("secret", None)
    clear_secret = fields.pop("clear_secret", False)
    not_null(fields, set())
    return interface_out(services.update_interface(actor, interface, secret=secret, clear_secret=clear_secret,
                                                   **fields))


@router.delete("/interfaces/{id}", response=responses(None, 204), operation_id="delete_interface",
               summary="Delete a partner interface with its schedules and executions")
def delete_interface(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_INTERFACES)
    services.delete_interface(actor, scoped_get(actor, Interface, field="id", pk=id))
    return Status(204, None)


@router.post("/interfaces/{id}/test", response=responses(ConnectionOut), operation_id="test_interface",
             summary="Call the partner: are URL, credentials and project right?")
def test_interface(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_INTERFACES)
    return services.test_connection(actor, scoped_get(actor, Interface, field="id", pk=id)).as_dict()


# ---------------------------------------------------------------- schedules

@router.get("/schedules", response=responses(SchedulePage), operation_id="list_schedules",
            summary="List schedules")
def list_schedules(request: HttpRequest, query: Query[PageQuery]) -> Any:
    qs = services.schedules_of(request.auth).select_related("organisation", "interface")
    return paginate(qs, query.cursor, query.limit, schedule_out)


@router.post("/schedules", response=responses(ScheduleOut, 201), operation_id="create_schedule",
             summary="Create a schedule running one function of one interface")
def create_schedule(request: HttpRequest, payload: ScheduleIn) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_INTERFACES)
    data = payload.dict()
    interface = scoped_get(actor, Interface, field="interface_id", pk=data.pop("interface_id"))
    data["date_from"] = aware(data.get("date_from"), actor.organisation)
    return Status(201, schedule_out(services.create_schedule(actor, interface=interface, **data)))


@router.get("/schedules/{id}", response=responses(ScheduleOut), operation_id="get_schedule",
            summary="Get a schedule, its watermark and its warnings")
def get_schedule(request: HttpRequest, id: Id) -> Any:
    request.auth.require(Permission.VIEW)
    return schedule_out(scoped_get(request.auth, Schedule, field="id", pk=id))


@router.patch("/schedules/{id}", response=responses(ScheduleOut), operation_id="update_schedule",
              summary="Change a schedule (date_from: null clears it)")
def update_schedule(request: HttpRequest, id: Id, payload: SchedulePatch) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.MANAGE_INTERFACES)
    schedule = scoped_get(actor, Schedule, field="id", pk=id)
    fields = payload.dict(exclude_unset=True)
    not_null(fields, {"batch_size", "date_from"})
    if fields.get("date_from") is not None:
        fields["date_from"] = aware(fields["date_from"], actor.organisation)
    return schedule_out(services.update_schedule(actor, schedule, **fields))


@router.delete("/schedules/{id}", response=responses(None, 204), operation_id="delete_schedule",
               summary="Delete a schedule (its executions stay)")
def delete_schedule(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    services.delete_schedule(actor, scoped_get(actor, Schedule, field="id", pk=id))
    return Status(204, None)


@router.get("/schedules/{id}/state", response=responses(ScheduleStateOut), operation_id="get_schedule_state",
            summary="The values the schedule's function keeps between runs (administrators only)")
def get_schedule_state(request: HttpRequest, id: Id) -> Any:
    actor: Actor = request.auth
    schedule = scoped_get(actor, Schedule, field="id", pk=id)
    return state_out(schedule, services.schedule_state(actor, schedule))


@router.put("/schedules/{id}/state", response=responses(ScheduleStateOut), operation_id="set_schedule_state",
            summary="Set one state value (administrators only, audited; not while the schedule runs). "
                    + "Do not touch this value if you do not know what you are doing.")
def set_schedule_state(request: HttpRequest, id: Id, payload: StateIn) -> Any:
    actor: Actor = request.auth
    schedule = scoped_get(actor, Schedule, field="id", pk=id)
    return state_out(schedule, services.set_schedule_state(actor, schedule, payload.key, payload.value))


@router.post("/schedules/{id}/run", response=responses(RunQueuedOut, 202), operation_id="run_schedule",
             summary="Run now: queue a run for the workers")
def run_schedule(request: HttpRequest, id: Id, query: Query[RunIn]) -> Any:
    actor: Actor = request.auth
    schedule = scoped_get(actor, Schedule, field="id", pk=id)
    date_from = aware(query.date_from, actor.organisation)
    return Status(202, {"task_id": services.run_now(actor, schedule, date_from), "schedule_id": schedule.pk})


# ---------------------------------------------------------------- executions

@router.get("/executions", response=responses(ExecutionPage), operation_id="list_executions",
            summary="List executions, newest first pages by id; filter by schedule, status, barcode…")
def list_executions(request: HttpRequest, query: Query[ExecutionQuery]) -> Any:
    actor: Actor = request.auth
    qs = services.executions_of(actor).select_related("organisation")
    if query.schedule_id:
        qs = qs.filter(schedule_id=query.schedule_id)
    if query.interface_id:
        qs = qs.filter(interface_id=query.interface_id)
    if query.function:
        qs = qs.filter(function=query.function)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.started_after:
        qs = qs.filter(started_at__gte=aware(query.started_after, actor.organisation))
    if query.started_before:
        qs = qs.filter(started_at__lt=aware(query.started_before, actor.organisation))
    if query.barcode:
        qs = qs.filter(pk__in=ExecutionItem.objects.filter(organisation=actor.organisation,
                                                           object_ref=query.barcode).values("execution_id"))
    if query.ticket_id:
        qs = qs.filter(pk__in=ExecutionItem.objects.filter(organisation=actor.organisation,
                                                           ticket_id=query.ticket_id).values("execution_id"))
    return paginate(qs, query.cursor, query.limit, execution_out)


@router.get("/executions/{id}", response=responses(ExecutionOut), operation_id="get_execution",
            summary="Get an execution: status, counts, summary, error and cause")
def get_execution(request: HttpRequest, id: Id) -> Any:
    request.auth.require(Permission.VIEW)
    return execution_out(scoped_get(request.auth, Execution, field="id", pk=id))


@router.get("/executions/{id}/items", response=responses(ItemPage), operation_id="list_execution_items",
            summary="What happened to each ticket or object of an execution")
def list_execution_items(request: HttpRequest, id: Id, query: Query[ItemQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    execution = scoped_get(actor, Execution, field="id", pk=id)
    qs = ExecutionItem.objects.filter(execution=execution).select_related("organisation")
    if query.outcome:
        qs = qs.filter(outcome=query.outcome)
    if query.barcode:
        qs = qs.filter(object_ref=query.barcode)
    if query.ticket_id:
        qs = qs.filter(ticket_id=query.ticket_id)
    return paginate(qs, query.cursor, query.limit, item_out)


@router.get("/executions/{id}/calls", response=responses(CallPage), operation_id="list_execution_calls",
            summary="The partner HTTP calls of an execution (method, path, status, duration; never a secret)")
def list_execution_calls(request: HttpRequest, id: Id, query: Query[PageQuery]) -> Any:
    actor: Actor = request.auth
    actor.require(Permission.VIEW)
    execution = scoped_get(actor, Execution, field="id", pk=id)
    org = actor.organisation
    return paginate(PartnerCall.objects.filter(execution=execution), query.cursor, query.limit,
                    lambda c: {"id": c.pk, "at": local(c.at, org), "method": c.method, "path": c.path,
                               "status": c.status, "duration_ms": c.duration_ms, "attempt": c.attempt,
                               "error": c.error})
