"""Jobs services: interfaces (typed parameters, write-only secrets), schedules,
runs. The admin, the API, the CLI, the tasks and the tests call these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from passgate.errors import Conflict, Forbidden, InvalidInput, NotFound, PassgateError
from passgate.jobs import registry
from passgate.jobs.partner_http import PartnerError, check_destination
from passgate.orgs.models import Role
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, delete_scoped, record_audit, snapshot
from passgate.orgs.timezones import format_local

from . import secrets as secret_store
from .apps import SYSTEM_TYPE
from .models import Execution, Interface, Schedule, ScheduleState, Trigger
from .params import insert_keys, parse_document, parse_parameters, validate
from .runner import ScheduleBusy, reap_lost, run_schedule, watermark  # noqa: F401 - re-exported

# ---------------------------------------------------------------- interfaces


def _check_emails(value: str) -> str:
    addresses = [a.strip() for a in (value or "").replace(";", ",").split(",") if a.strip()]
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput("not an e-mail address", field="notify_emails",
                               expected="addresses separated by commas", found=address) from None
    return ", ".join(addresses)


def prepare_interface(type_code: str, url: str, parameters_text: str) -> tuple[str, dict[str, Any], str | None]:
    """Validate type, URL and parameters → (normalised URL, parameters, singleton group).

    Order: the syntax of the parameters first, then the type's URL rule (which
    may move part of the URL into the parameters), then the parameter schema."""
    url, parameters, group, _text = normalise_interface(type_code, url, parameters_text)
    return url, parameters, group


def normalise_interface(type_code: str, url: str, parameters_text: str
                        ) -> tuple[str, dict[str, Any], str | None, str]:
    """As prepare_interface, plus the parameters text with the keys the URL rule
    added written in (so that what the operator sees is what is stored)."""
    spec = registry.get_type(type_code)
    raw, lines = parse_document(parameters_text)
    if not isinstance(raw, dict):
        validate(raw, spec.params_schema, lines)  # raises "expected an object"
    norm_url = (url or "").strip()
    text = parameters_text or ""
    if spec.normalise is not None:
        normalised = spec.normalise(norm_url, raw)
        added = {k: v for k, v in normalised.parameters.items() if k not in raw}
        if added:
            text = insert_keys(text, added, "taken from the URL")
        norm_url, raw = normalised.url, normalised.parameters
    validate(raw, spec.params_schema, lines)
    return norm_url, raw, spec.singleton_group, text


def check_unique(organisation, name: str, singleton_group: str | None, exclude_pk: int | None = None) -> None:
    """The rules the database enforces, checked first to give a clear error."""
    others = Interface.objects.filter(organisation=organisation).exclude(pk=exclude_pk)
    if singleton_group:
        clash = others.filter(singleton_group=singleton_group).first()
        if clash is not None:
            raise Conflict(f"this organisation already has a {singleton_group} interface ({clash.name}); "
                           "only one is allowed (push cancelled / push controlled would break)", field="type",
                           code="duplicate", expected=f"one {singleton_group} interface per organisation",
                           found=f"{clash.name} exists")
    if others.filter(name=name).exists():
        raise Conflict("an interface with this name exists already", field="name", code="duplicate",
                       expected="a new name", found=name)


def _save_interface(actor: Actor, interface: Interface, before: dict | None, action: str) -> Interface:
    spec = registry.get_type(interface.type)
    if spec.check is not None:
        spec.check(interface.organisation, interface.parameters)
    check_unique(interface.organisation, interface.name, interface.singleton_group, interface.pk)
    try:
        with transaction.atomic():
            interface.save()
            record_audit(actor, action, interface, before, snapshot(interface))
    except IntegrityError as exc:  # a concurrent save won the race; the database said no
        raise Conflict("this interface clashes with another one of the organisation (name, or one "
                       "interface of its kind per organisation)", field="type", code="duplicate",
                       expected="a unique interface", found=str(exc)[:200]) from None
    return interface


def _refuse_builtin(interface: Interface, what: str) -> None:
    if interface.type == SYSTEM_TYPE:
        raise Conflict(f"the built-in maintenance interface cannot be {what}", field="interface",
                       code="builtin", expected="an interface of a partner type",
                       found=f"{interface.name} ({SYSTEM_TYPE})")


def create_interface(actor: Actor, *, type: str, name: str, url: str = "", username: str = "", secret: str = "",
                     parameters_text: str = "", notify_emails: str = "", notify_on_warning: bool = False,
                     enabled: bool = True) -> Interface:
    actor.require(Permission.MANAGE_INTERFACES)
    if type == SYSTEM_TYPE:
        raise InvalidInput("the maintenance interface is built in: every organisation has one already",
                           field="type", expected="a partner type", found=type)
    if not (name or "").strip():
        raise InvalidInput("an interface needs a name", field="name", expected="a name", found=name)
    norm_url, parameters, group, text = normalise_interface(type, url, parameters_text)
    interface = Interface(organisation=actor.organisation, type=type, name=name.strip(), url=norm_url,
                          username=(username or "").strip(), parameters_text=text,
                          parameters=parameters, notify_emails=_check_emails(notify_emails),
                          notify_on_warning=notify_on_warning, enabled=enabled, singleton_group=group,
                          secret_encrypted=secret_store.encrypt(secret or ""))
    return _save_interface(actor, interface, None, "create")


def update_interface(actor: Actor, interface: Interface, *, secret: str | None = None, clear_secret: bool = False,
                     **fields: Any) -> Interface:
    """Change an interface. A blank or missing `secret` keeps the stored one
    (`clear_secret=True` removes it on purpose)."""
    actor.require(Permission.MANAGE_INTERFACES)
    if interface.organisation_id != actor.organisation.pk:
        raise NotFound("no such interface in this organisation", field="interface", found=interface.pk)
    _refuse_builtin(interface, "changed (enable or disable its schedules, or change their frequency)")
    allowed = {"type", "name", "url", "username", "parameters_text", "notify_emails", "notify_on_warning",
               "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput("these fields cannot be changed", field=sorted(unknown)[0],
                           expected=", ".join(sorted(allowed)), found=", ".join(sorted(unknown)))
    before = snapshot(Interface.objects.get(pk=interface.pk))
    for key, value in fields.items():
        setattr(interface, key, value)
    if not (interface.name or "").strip():
        raise InvalidInput("an interface needs a name", field="name", expected="a name", found=interface.name)
    interface.name = interface.name.strip()
    if "type" in fields:
        functions = registry.get_type(interface.type).functions
        orphans = sorted({f for f in interface.schedules.values_list("function", flat=True) if f not in functions})
        if orphans:
            raise Conflict("schedules of this interface run functions the new type does not have", field="type",
                           expected="a type offering " + ", ".join(orphans), found=interface.type)
    interface.url, interface.parameters, interface.singleton_group, interface.parameters_text = \
        normalise_interface(interface.type, interface.url, interface.parameters_text)
    interface.notify_emails = _check_emails(interface.notify_emails)
    if clear_secret:
        interface.secret_encrypted = ""
    elif secret:  # blank keeps the stored secret
        interface.secret_encrypted = secret_store.encrypt(secret)
    return _save_interface(actor, interface, before, "update")


def delete_interface(actor: Actor, interface: Interface) -> None:
    actor.require(Permission.MANAGE_INTERFACES)
    if interface.organisation_id != actor.organisation.pk:
        raise NotFound("no such interface in this organisation", field="interface", found=interface.pk)
    _refuse_builtin(interface, "deleted")
    with transaction.atomic():
        record_audit(actor, "delete", interface, snapshot(interface), None)
        interface.delete()


def interface_secret(interface: Interface) -> str:
    """The plain secret, for a partner call only: never log nor return it. Decrypted once per
    process and secret (the doors call this at every partner scan)."""
    return secret_store.decrypt_cached(interface.secret_encrypted)


def rotate_secrets() -> int:
    """Re-encrypt every stored secret under the newest key (after adding one)."""
    count = 0
    for interface in Interface.objects.exclude(secret_encrypted=""):
        Interface.objects.filter(pk=interface.pk).update(
            secret_encrypted=secret_store.rotate(interface.secret_encrypted))
        count += 1
    return count


def test_connection(actor: Actor, interface: Interface) -> registry.ConnectionReport:
    """Ask the partner whether URL, credentials and project are right; in plain words."""
    actor.require(Permission.MANAGE_INTERFACES)
    if interface.organisation_id != actor.organisation.pk:
        raise NotFound("no such interface in this organisation", field="interface", found=interface.pk)
    spec = registry.get_type(interface.type)
    # Before any connector code runs: "test connection" must not become a probe of the internal network.
    check_destination(interface.url)
    if spec.test_connection is None:
        return reachability(interface, spec.label)
    try:
        return spec.test_connection(interface)
    except PartnerError as exc:
        return registry.ConnectionReport(False, exc.message, [("partner", False, str(exc.found or ""))])
    except PassgateError as exc:
        return registry.ConnectionReport(False, str(exc))


def reachability(interface: Interface, label: str) -> registry.ConnectionReport:
    """For a type whose connector has no test of its own: is the URL reachable at all?"""
    from passgate.jobs.partner_http import PartnerClient, RetryPolicy

    client = PartnerClient(interface.url, connect_timeout=5, read_timeout=10, retry=RetryPolicy(max_attempts=1))
    client.partner = label
    try:
        response = client.get("", accept=range(100, 600))
    except PartnerError as exc:
        return registry.ConnectionReport(False, f"the URL cannot be reached: {exc.found}",
                                         [("URL", False, str(exc.found))])
    finally:
        client.close()
    return registry.ConnectionReport(
        False, f"the URL answers (HTTP {response.status_code}); the credentials cannot be checked until the "
               f"{label} connector is installed", [("URL", True, f"HTTP {response.status_code}"),
                                                   ("credentials", False, "not checked")])


# ---------------------------------------------------------------- schedules

SCHEDULE_FIELDS = {"function", "name", "enabled", "frequency_minutes", "batch_size", "parameters_text",
                   "date_from", "simulation", "interface"}
# What may change on a built-in (maintenance) schedule.
BUILTIN_SCHEDULE_FIELDS = {"enabled", "frequency_minutes"}


def prepare_schedule(schedule: Schedule) -> None:
    interface = schedule.interface
    if interface.organisation_id != schedule.organisation_id:
        raise NotFound("no such interface in this organisation", field="interface", found=interface.pk)
    fn = registry.get_function(interface.type, schedule.function)
    if schedule.frequency_minutes is None or schedule.frequency_minutes < 1:
        raise InvalidInput("the frequency is in minutes, at least 1", field="frequency_minutes",
                           expected="1 or more", found=schedule.frequency_minutes)
    if schedule.batch_size is not None:
        if schedule.batch_size < 1 or (fn.max_batch_size and schedule.batch_size > fn.max_batch_size):
            raise InvalidInput(f"batch size out of range for {fn.name}", field="batch_size",
                               expected=f"1 to {fn.max_batch_size}" if fn.max_batch_size else "1 or more",
                               found=schedule.batch_size)
    if schedule.simulation and not fn.supports_simulation:
        raise InvalidInput(f"{fn.name} has no simulation mode", field="simulation", expected="false", found="true")
    if schedule.date_from is not None and timezone.is_naive(schedule.date_from):
        raise InvalidInput("the date from needs a time zone", field="date_from",
                           expected="e.g. 2026-01-31T08:00:00+01:00", found=schedule.date_from.isoformat())
    schedule.parameters, _ = parse_parameters(schedule.parameters_text, fn.params_schema,
                                              field="parameters")


def create_schedule(actor: Actor, *, interface: Interface, function: str, name: str = "", enabled: bool = True,
                    frequency_minutes: int = 5, batch_size: int | None = None, parameters_text: str = "",
                    date_from: dt.datetime | None = None, simulation: bool = False) -> Schedule:
    actor.require(Permission.MANAGE_INTERFACES)
    if interface.organisation_id != actor.organisation.pk:
        raise NotFound("no such interface in this organisation", field="interface", found=interface.pk)
    _refuse_builtin(interface, "given schedules by hand (each built-in function has its own)")
    schedule = Schedule(organisation=actor.organisation, interface=interface, function=function, name=name or "",
                        enabled=enabled, frequency_minutes=frequency_minutes, batch_size=batch_size,
                        parameters_text=parameters_text or "", date_from=date_from, simulation=simulation,
                        next_run_at=timezone.now() if enabled else None)
    prepare_schedule(schedule)
    with transaction.atomic():
        schedule.save()
        record_audit(actor, "create", schedule, None, snapshot(schedule))
    return schedule


def update_schedule(actor: Actor, schedule: Schedule, **fields: Any) -> Schedule:
    actor.require(Permission.MANAGE_INTERFACES)
    if schedule.organisation_id != actor.organisation.pk:
        raise NotFound("no such schedule in this organisation", field="schedule", found=schedule.pk)
    builtin = schedule.interface.type == SYSTEM_TYPE
    allowed = BUILTIN_SCHEDULE_FIELDS if builtin else SCHEDULE_FIELDS
    # a form posts every field: only those whose value changes count
    unknown = {k for k, v in fields.items() if k not in allowed and (k not in SCHEDULE_FIELDS
                                                                    or getattr(schedule, k, None) != v)}
    if unknown:
        raise InvalidInput("these fields cannot be changed" + (" on a built-in schedule" if builtin else ""),
                           field=sorted(unknown)[0], expected=", ".join(sorted(allowed)),
                           found=", ".join(sorted(unknown)))
    before = snapshot(Schedule.objects.get(pk=schedule.pk))
    was_enabled = schedule.enabled
    for key, value in fields.items():
        setattr(schedule, key, value)
    prepare_schedule(schedule)
    if schedule.enabled and (not was_enabled or schedule.next_run_at is None):
        schedule.next_run_at = timezone.now()
    update_fields = sorted(SCHEDULE_FIELDS | {"parameters", "next_run_at", "updated_at"})
    with transaction.atomic():
        schedule.save(update_fields=update_fields)  # never touches the lease columns
        record_audit(actor, "update", schedule, before, snapshot(schedule))
    return schedule


def delete_schedule(actor: Actor, schedule: Schedule) -> None:
    if schedule.interface.type == SYSTEM_TYPE:
        raise Conflict("a built-in schedule cannot be deleted (disable it instead)", field="schedule",
                       code="builtin", expected="a schedule of a partner interface", found=str(schedule))
    delete_scoped(actor, schedule, Permission.MANAGE_INTERFACES)


def schedule_warnings(schedule: Schedule) -> list[str]:
    """What the back office should point out about a schedule."""
    warnings = []
    try:
        fn = registry.get_function(schedule.interface.type, schedule.function)
    except PassgateError as exc:
        return [str(exc)]
    if schedule.date_from is not None and schedule.enabled:
        warnings.append(
            f"This recurring schedule keeps a date from ({format_local(schedule, schedule.date_from, '%Y-%m-%d %H:%M')}): every run "
            "handles the tickets changed since that date again"
            + (" instead of those changed since the position the last run reached" if fn.uses_watermark else "")
            + ". Clear it, or use it in a separate schedule run once (or `passgate run-schedule ID --date-from`).")
    if schedule.simulation and schedule.enabled:
        warnings.append("Simulation mode: nothing is sent to the partner.")
    if not schedule.interface.enabled:
        warnings.append("The interface is disabled: this schedule does not run.")
    return warnings


def run_now(actor: Actor, schedule: Schedule, date_from: dt.datetime | None = None) -> str:
    """Queue a run of this schedule for the workers; returns the task id."""
    actor.require(Permission.MANAGE_INTERFACES)
    if schedule.organisation_id != actor.organisation.pk:
        raise NotFound("no such schedule in this organisation", field="schedule", found=schedule.pk)
    if not schedule.interface.enabled:
        raise Conflict("the interface is disabled", field="interface.enabled", expected="enabled", found="disabled")
    from .tasks import run_schedule_task

    result = run_schedule_task.enqueue(schedule.pk, Trigger.MANUAL,
                                       date_from.isoformat() if date_from else None)
    return str(result.id)


def run_in_foreground(schedule: Schedule, *, date_from: dt.datetime | None = None, progress=None,
                      trigger: str = Trigger.CLI) -> Execution:
    return run_schedule(schedule.pk, trigger=trigger, date_from=date_from, progress=progress)


# ---------------------------------------------------------------- reading

def interfaces_of(actor: Actor):
    actor.require(Permission.VIEW)
    return Interface.objects.filter(organisation=actor.organisation)


def schedules_of(actor: Actor):
    """The organisation's schedules, each with the start of its last run ending OK or WARNING
    (`last_ok_started_at`): one query for a whole page."""
    from django.db.models import OuterRef, Subquery

    actor.require(Permission.VIEW)
    last_ok = (Execution.objects.filter(schedule=OuterRef("pk"), status__in=["OK", "WARNING"], simulation=False)
               .order_by("-started_at").values("started_at")[:1])
    return (Schedule.objects.filter(organisation=actor.organisation).select_related("interface")
            .annotate(last_ok_started_at=Subquery(last_ok)))


def executions_of(actor: Actor):
    actor.require(Permission.VIEW)
    return Execution.objects.filter(organisation=actor.organisation).select_related("interface")


# ---------------------------------------------------------------- built-in schedules

MAINTENANCE_INTERFACE = "passgate maintenance"


def builtin_functions() -> list[registry.FunctionSpec]:
    spec = registry.types().get(SYSTEM_TYPE)
    return sorted((f for f in spec.functions.values() if f.builtin), key=lambda f: f.name) if spec else []


def ensure_builtin_schedules(organisation) -> list[Schedule]:
    """The organisation's maintenance interface and one schedule per built-in function registered
    (whoever registered it: jobs, access…). Idempotent; returns the schedules created."""
    functions = builtin_functions()
    if not functions:
        return []
    if not Interface.objects.filter(organisation=organisation, type=SYSTEM_TYPE).exists():
        name = MAINTENANCE_INTERFACE
        if Interface.objects.filter(organisation=organisation, name=name).exists():  # an operator's own
            name = f"{MAINTENANCE_INTERFACE} (built-in)"
        try:
            with transaction.atomic():
                Interface.objects.create(organisation=organisation, type=SYSTEM_TYPE, name=name,
                                         singleton_group=SYSTEM_TYPE, enabled=True)
        except IntegrityError:  # another scheduler made it (one per organisation: a unique index)
            pass
    created: list[Schedule] = []
    with transaction.atomic():
        # the interface row's lock serialises two schedulers adding the same schedules
        interface = Interface.objects.select_for_update().get(organisation=organisation, type=SYSTEM_TYPE)
        have = set(Schedule.objects.filter(interface=interface).values_list("function", flat=True))
        now = timezone.now()
        for fn in functions:
            if fn.name in have:
                continue
            created.append(Schedule.objects.create(
                organisation=organisation, interface=interface, function=fn.name, name=fn.label,
                frequency_minutes=fn.default_frequency_minutes,
                next_run_at=now + dt.timedelta(minutes=fn.default_frequency_minutes)))
    return created


def organisations_missing_builtins():
    """Organisations lacking a schedule of some built-in function (one query)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from passgate.orgs.models import Organisation

    names = [f.name for f in builtin_functions()]
    if not names:
        return Organisation.objects.none()
    have = (Schedule.objects.filter(organisation=OuterRef("pk"), interface__type=SYSTEM_TYPE, function__in=names)
            .order_by().values("organisation").annotate(n=Count("function", distinct=True)).values("n"))
    return (Organisation.objects.annotate(builtins=Coalesce(Subquery(have, output_field=IntegerField()), 0))
            .filter(builtins__lt=len(names)))


def ensure_all_builtin_schedules() -> int:
    count = 0
    for organisation in organisations_missing_builtins():
        count += len(ensure_builtin_schedules(organisation))
    return count


# ---------------------------------------------------------------- the schedule's state store

STATE_WARNING = ("Do not touch this value if you do not know what you are doing. The next run of this schedule "
                 "starts from it: moving a position back sends again what was sent already (partners are "
                 "idempotent by id, but it costs a full resend), moving it forward skips tickets that will "
                 "never be sent, and a wrong partner pagination key loses or repeats feedback.")


def _require_administrator(actor: Actor, what: str) -> None:
    if actor.role != Role.ADMINISTRATOR:
        raise Forbidden(f"only an administrator may {what}", field="role", expected=Role.ADMINISTRATOR,
                        found=actor.role)


def schedule_state(actor: Actor, schedule: Schedule) -> list[ScheduleState]:
    """The values the schedule's function keeps between runs (administrators only)."""
    _require_administrator(actor, "read the state of a schedule")
    if schedule.organisation_id != actor.organisation.pk:
        raise NotFound("no such schedule in this organisation", field="schedule", found=schedule.pk)
    return list(ScheduleState.objects.filter(schedule=schedule).order_by("key"))


def set_schedule_state(actor: Actor, schedule: Schedule, key: str, value_text: str | None) -> list[ScheduleState]:
    """Set one value (JSON text, parsed strictly; empty = remove the key). Administrators only,
    audited, refused while the schedule runs (the run would overwrite it)."""
    from .params import parse_document

    _require_administrator(actor, "change the state of a schedule")
    if schedule.organisation_id != actor.organisation.pk:
        raise NotFound("no such schedule in this organisation", field="schedule", found=schedule.pk)
    key = (key or "").strip()
    if not key or len(key) > 80:
        raise InvalidInput("a state value needs a key", field="key", expected="1 to 80 characters", found=key)
    remove = value_text is None or not value_text.strip()
    value = None if remove else parse_document(value_text, field=f"state.{key}")[0]
    with transaction.atomic():
        locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
        if locked.lease_token and locked.lease_expires_at and locked.lease_expires_at > timezone.now():
            raise Conflict("the schedule is running: change its state once the run is over", field="schedule",
                           code="schedule_running", expected="no run in progress", found="a run in progress")
        current = ScheduleState.objects.filter(schedule=schedule, key=key).first()
        before = {"key": key, "value": current.value if current else None}
        if remove:
            if current is None:
                raise NotFound("no such state key", field="key", found=key)
            current.delete()
        else:
            ScheduleState.objects.update_or_create(
                schedule=schedule, key=key,
                defaults={"organisation": schedule.organisation, "value": value, "updated_at": timezone.now(),
                          "execution": None, "updated_by": actor.label[:200]})
        record_audit(actor, "set_state", schedule, before, {"key": key, "value": None if remove else value})
    return list(ScheduleState.objects.filter(schedule=schedule).order_by("key"))
