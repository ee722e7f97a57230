"""Organisation services: actors, the audit log, members and API tokens."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import secrets
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from passgate.errors import Conflict, Forbidden, InvalidInput, NotFound, from_validation_error

from .models import ApiToken, AuditEntry, Membership, Organisation, Role
from .permissions import Permission, role_allows

TOKEN_PREFIX = "pg_"
# last_used_at is a courtesy, not a log: write it at most once a minute per token.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a back-office user, an API token, a device or a job."""

    organisation: Organisation
    role: str
    label: str
    user: Any = None
    token: ApiToken | None = None

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(
                f"the role {self.role} may not {permission.value.replace('_', ' ')}",
                code="forbidden",
                expected=f"a role allowed to {permission.value}",
                found=self.role,
            )

    @classmethod
    def system(cls, organisation: Organisation, label: str = "system") -> Actor:
        return cls(organisation=organisation, role=Role.ADMINISTRATOR, label=label)


# ---------------------------------------------------------------- audit log

def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


SECRET_FIELD_MARKERS = ("secret", "password", "token_hash", "api_key")


def snapshot(obj: models.Model | None) -> dict[str, Any] | None:
    """The concrete field values of a row, JSON-ready; secrets are masked."""
    if obj is None:
        return None
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        name = field.attname
        value = getattr(obj, name)
        if any(marker in name for marker in SECRET_FIELD_MARKERS):
            value = "***" if value else value
        elif isinstance(field, models.DecimalField) and value is not None:
            value = decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-field.decimal_places))
        data[name] = _jsonable(value)
    return data


def record_audit(
    actor: Actor,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        organisation=actor.organisation,
        actor=actor.label[:200],
        user=actor.user if getattr(actor.user, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
    )


def save_audited(actor: Actor, obj: models.Model, action: str | None = None) -> models.Model:
    """full_clean + save + audit entry with before/after, in one transaction."""
    with transaction.atomic():
        before = None
        if obj.pk is not None:
            previous = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = snapshot(previous)
        try:
            obj.full_clean()
        except ValidationError as exc:
            raise from_validation_error(exc) from None
        obj.save()
        record_audit(actor, action or ("update" if before else "create"), obj, before, snapshot(obj))
    return obj


# ---------------------------------------------------------------- organisations

def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "unknown time zone", field="time_zone", expected="an IANA zone such as Europe/Paris", found=value
        ) from None


def create_organisation(code: str, name: str, time_zone: str = "Europe/Paris", currency: str = "EUR",
                        *, label: str = "system") -> Organisation:
    validate_time_zone(time_zone)
    if Organisation.objects.filter(code=code).exists():
        raise InvalidInput("an organisation with this code exists already", field="code",
                           code="duplicate", expected="a new code", found=code)
    with transaction.atomic():
        org = Organisation(code=code, name=name, time_zone=time_zone, currency=currency.upper())
        org.full_clean()
        org.save()
        record_audit(Actor.system(org, label), "create", org, None, snapshot(org))
    return org


def set_membership(actor: Actor, user: Any, role: str) -> Membership:
    actor.require(Permission.MANAGE_ORGANISATION)
    if role not in Role.values:
        raise InvalidInput("unknown role", field="role", expected=", ".join(Role.values), found=role)
    with transaction.atomic():
        membership = Membership.objects.filter(user=user, organisation=actor.organisation).first()
        before = snapshot(membership)
        if membership is None:
            membership = Membership(user=user, organisation=actor.organisation)
        membership.role = role
        membership.save()
        record_audit(actor, "set_role", membership, before, snapshot(membership))
    return membership


def user_actor(user: Any, organisation: Organisation) -> Actor:
    """The actor for a back-office user in one organisation (superusers administer all)."""
    if user.is_superuser:
        role = Role.ADMINISTRATOR
    else:
        membership = Membership.objects.filter(user=user, organisation=organisation).first()
        if membership is None:
            raise NotFound("no such organisation", field="organisation", found=organisation.code)
        role = membership.role
    return Actor(organisation=organisation, role=role, label=user.get_username(), user=user)


def organisations_of(user: Any):
    if user.is_superuser:
        return Organisation.objects.all()
    return Organisation.objects.filter(memberships__user=user)


def ensure_user(username: str, password: str, *, superuser: bool = False, email: str = "") -> Any:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, email=email)
    user.is_staff = True
    user.is_superuser = superuser or user.is_superuser
    user.set_password(password)
    user.save()
    return user


# ---------------------------------------------------------------- API tokens

def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_api_token(actor: Actor, name: str, role: str) -> tuple[ApiToken, str]:
    """Returns the token row and its plaintext, which is never stored nor shown again."""
    actor.require(Permission.MANAGE_ORGANISATION)
    if role not in Role.values:
        raise InvalidInput("unknown role", field="role", expected=", ".join(Role.values), found=role)
    if not name.strip():
        raise InvalidInput("a token needs a name", field="name", expected="a non-empty name", found=name)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            organisation=actor.organisation,
            name=name.strip(),
            role=role,
            prefix=plaintext[:10],
            token_hash=hash_token(plaintext),
            created_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        record_audit(actor, "issue_token", token, None, snapshot(token))
    return token, plaintext


def revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    actor.require(Permission.MANAGE_ORGANISATION)
    if token.organisation_id != actor.organisation.pk:
        raise NotFound("no such token", field="token", found=token.pk)
    with transaction.atomic():
        before = snapshot(token)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        record_audit(actor, "revoke_token", token, before, snapshot(token))
    return token


def authenticate_token(plaintext: str) -> Actor | None:
    """The actor behind a bearer token, or None (unknown or revoked)."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("organisation")
        .filter(token_hash=hash_token(plaintext), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return Actor(organisation=token.organisation, role=token.role, label=f"token:{token.name}", token=token)


# ---------------------------------------------------------------- tenancy helpers

def scoped_get(actor_or_org: Actor | Organisation, model: type[models.Model], field: str | None = None,
               **lookup: Any) -> Any:
    """One row of the organisation, or NotFound naming the field (never another organisation's row)."""
    org = actor_or_org.organisation if isinstance(actor_or_org, Actor) else actor_or_org
    obj = model._default_manager.filter(organisation=org, **lookup).first()
    if obj is None:
        label = field or model._meta.model_name
        found = ", ".join(f"{k}={v}" for k, v in lookup.items())
        raise NotFound(f"no {model._meta.verbose_name} with {found} in this organisation",
                       field=label, found=found)
    return obj


def check_same_organisation(actor: Actor, values: dict[str, Any]) -> None:
    """Refuse references to rows of another organisation, as if they did not exist."""
    for name, value in values.items():
        org_id = getattr(value, "organisation_id", None)
        if isinstance(value, models.Model) and org_id is not None and org_id != actor.organisation.pk:
            raise NotFound(f"no such {value._meta.verbose_name} in this organisation", field=name,
                           found=value.pk)


def foreign_references(organisation: Organisation, values: dict[str, Any]) -> list[InvalidInput]:
    """One error per value that is (or holds) a row of another organisation than `organisation`.
    Used where every field is shown at once (back-office forms); the services refuse the first."""
    errors: list[InvalidInput] = []
    for name, value in values.items():
        rows = list(value) if isinstance(value, models.QuerySet | list | tuple | set) else [value]
        for row in rows:
            if isinstance(row, Organisation):
                org_id = row.pk
            elif isinstance(row, models.Model):
                org_id = getattr(row, "organisation_id", None)
            else:
                continue
            if org_id is None or org_id == organisation.pk:
                continue
            owner = Organisation.objects.filter(pk=org_id).values_list("code", flat=True).first()
            label = "organisation" if isinstance(row, Organisation) else row._meta.verbose_name
            what = "the row it is attached to belongs to another organisation" if isinstance(row, Organisation) \
                else f"this {label} belongs to another organisation"
            errors.append(InvalidInput(
                what, field=name, code="other_organisation",
                expected=f"a {label} of {organisation.code}", found=f"{row} (of {owner})"))
            break
    return errors


def create_scoped(actor: Actor, model: type[models.Model], permission: Permission, **fields: Any) -> Any:
    actor.require(permission)
    check_same_organisation(actor, fields)
    return save_audited(actor, model(organisation=actor.organisation, **fields), "create")


def update_scoped(actor: Actor, obj: models.Model, permission: Permission, **fields: Any) -> Any:
    actor.require(permission)
    if getattr(obj, "organisation_id", None) != actor.organisation.pk:
        raise NotFound(f"no such {obj._meta.verbose_name} in this organisation", found=obj.pk)
    check_same_organisation(actor, fields)
    for name, value in fields.items():
        setattr(obj, name, value)
    return save_audited(actor, obj, "update")


def delete_scoped(actor: Actor, obj: models.Model, permission: Permission) -> None:
    actor.require(permission)
    if getattr(obj, "organisation_id", None) != actor.organisation.pk:
        raise NotFound(f"no such {obj._meta.verbose_name} in this organisation", found=obj.pk)
    with transaction.atomic():
        record_audit(actor, "delete", obj, snapshot(obj), None)
        try:
            obj.delete()
        except models.ProtectedError as exc:
            raise Conflict(f"this {obj._meta.verbose_name} is still used by "
                           f"{len(exc.protected_objects)} other record(s)", code="in_use") from None
