"""The back office is organised by organisation: a member sees the rows of the
organisations they belong to, and their role there decides what they may change.
Saves go through the services (validation + audit log)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models

from passgate.errors import PassgateError

from .models import Membership, Organisation
from .permissions import Permission, role_allows
from .services import Actor, save_audited, user_actor


def member_roles(request) -> dict[int, str]:
    """organisation id → role of the current user (cached on the request)."""
    if not hasattr(request, "_passgate_roles"):
        if not request.user.is_authenticated or not request.user.is_active:
            request._passgate_roles = {}
        elif request.user.is_superuser:
            request._passgate_roles = {pk: "ADMINISTRATOR" for pk in Organisation.objects.values_list("pk", flat=True)}
        else:
            request._passgate_roles = dict(
                Membership.objects.filter(user=request.user).values_list("organisation_id", "role"))
    return request._passgate_roles


def actor_for(request, organisation: Organisation) -> Actor:
    return user_actor(request.user, organisation)


class OrgScopedAdmin(admin.ModelAdmin):
    """Base admin for organisation-scoped models."""

    write_permission: Permission = Permission.MANAGE_CATALOG
    org_field = "organisation"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.org_field}__in": list(member_roles(request))})

    def get_list_filter(self, request):
        base = list(super().get_list_filter(request))
        if len(member_roles(request)) > 1 and self.org_field == "organisation":
            return ["organisation", *base]
        return base

    # -- permissions come from the role in the organisation, not Django's model permissions
    def has_module_permission(self, request) -> bool:
        return bool(member_roles(request))

    def has_view_permission(self, request, obj=None) -> bool:
        return bool(member_roles(request))

    def _may_write(self, request, obj=None) -> bool:
        roles = member_roles(request)
        if obj is not None:
            org_id = getattr(obj, f"{self.org_field}_id", None)
            return role_allows(roles.get(org_id, ""), self.write_permission)
        return any(role_allows(role, self.write_permission) for role in roles.values())

    def has_add_permission(self, request) -> bool:
        return self._may_write(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_write(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Organisation and not request.user.is_superuser:
            kwargs["queryset"] = Organisation.objects.filter(pk__in=list(member_roles(request)))
        elif any(f.name == "organisation" for f in related._meta.fields) and not request.user.is_superuser:
            kwargs["queryset"] = related._default_manager.filter(organisation__in=list(member_roles(request)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        roles = member_roles(request)
        if "organisation" in form.base_fields and len(roles) == 1:
            form.base_fields["organisation"].initial = next(iter(roles))
        return form

    def save_model(self, request, obj, form, change) -> None:
        actor = actor_for(request, obj.organisation)
        actor.require(self.write_permission)
        save_audited(actor, obj, "update" if change else "create")

    def run_service(self, request, queryset, label: str, func) -> None:
        """Apply a service to each selected row; report successes and each refusal."""
        done, refused = 0, []
        for obj in queryset:
            try:
                func(actor_for(request, obj.organisation), obj)
                done += 1
            except PassgateError as exc:
                refused.append(f"{obj}: {exc.message}")
        if done:
            self.message_user(request, f"{label}: {done} done.", messages.SUCCESS)
        for line in refused[:20]:
            self.message_user(request, f"{label} refused — {line}", messages.ERROR)


class ReadOnlyAdmin(OrgScopedAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def field_names(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields]


def export_csv(filename: str, header: list[str], rows: Any):
    import csv

    from django.http import StreamingHttpResponse

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo(), delimiter=";")

    def stream():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
