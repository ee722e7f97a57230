"""The back office is organised by organisation: a member sees the rows of the
organisations they belong to, and their role there decides what they may change.

Every admin built on OrgScopedAdmin gets, without per-admin code:
- tenancy on save: each form (main, inline, list-editable) refuses a reference to a
  row of another organisation than the row being saved, field by field — the
  dropdowns of a member of two organisations offer both, so narrowing is not enough;
- saves, inline rows and deletions through the services (validation + audit log);
- times in the organisation's zone: list columns per row, change pages per object;
- the object's audit history on its change page."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.forms.models import InlineForeignKeyField
from django.http import HttpResponseRedirect
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from passgate.errors import PassgateError

from .models import AuditEntry, Membership, Organisation
from .permissions import Permission, role_allows
from .services import (
    Actor,
    create_scoped,
    delete_scoped,
    foreign_references,
    update_scoped,
    user_actor,
)
from .timezones import format_local, zone_of


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


def error_sentence(exc: PassgateError) -> str:
    """The service's refusal as one sentence for a form: what, expected, found."""
    text = exc.message
    if exc.expected is not None or exc.found is not None:
        text += f" (expected {exc.expected}; found {exc.found})"
    return text


# ---------------------------------------------------------------- tenancy on save

def owner_organisation(form) -> Organisation | None:
    """The organisation of the row a form saves: an inline row's is its parent's;
    otherwise the chosen organisation, or the row's own."""
    for field in form.fields.values():
        if isinstance(field, InlineForeignKeyField):
            parent = field.parent_instance
            if getattr(parent, "organisation_id", None) is not None:
                return parent.organisation
    if "organisation" in form.fields:
        return form.cleaned_data.get("organisation")
    if getattr(form.instance, "organisation_id", None) is not None:
        return form.instance.organisation
    return None


def check_form_tenancy(form, request, permission: Permission) -> None:
    """Field errors for every reference to another organisation's row, and for an
    organisation the user's role there may not write to."""
    owner = owner_organisation(form)
    if owner is None:
        return
    org_field = "organisation" if "organisation" in form.fields else None
    try:
        user_actor(request.user, owner).require(permission)
    except PassgateError as exc:
        form.add_error(org_field, error_sentence(exc))
    parent_keys = {name for name, f in form.fields.items() if isinstance(f, InlineForeignKeyField)}
    values = {name: value for name, value in form.cleaned_data.items()
              if name not in parent_keys and not (name == "organisation" and not parent_keys)}
    for exc in foreign_references(owner, values):
        form.add_error(exc.field if exc.field in form.fields else None, error_sentence(exc))


def tenancy_checked(form_class: type, request, permission: Permission) -> type:
    """`form_class`, refusing cross-organisation references in clean()."""

    def clean(self):
        data = super(checked, self).clean()
        check_form_tenancy(self, request, permission)
        return data

    checked = type(form_class.__name__, (form_class,), {"clean": clean, "__module__": form_class.__module__})
    return checked


def model_values(form, obj: models.Model, names=None, exclude=()) -> dict[str, Any]:
    """The model fields a form filled on `obj`, by name, for a service call."""
    editable = {f.name for f in obj._meta.concrete_fields if f.editable}
    names = form.cleaned_data.keys() if names is None else names
    return {name: getattr(obj, name) for name in names
            if name in editable and name in form.cleaned_data and name != "organisation" and name not in exclude}


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's instance the row the service saved (pk, defaults, state)."""
    obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
    obj._state.adding = False
    obj._state.db = saved._state.db


# ---------------------------------------------------------------- times and history

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@functools.cache
def local_column(model: type[models.Model], name: str):
    """A list column showing a datetime field in each row's own organisation's zone."""
    field = model._meta.get_field(name)

    def column(obj):
        value = getattr(obj, name)
        if value is None:
            return None
        return format_html('<span title="{}">{}</span>', str(zone_of(obj)),
                           format_local(obj, value, "%Y-%m-%d %H:%M", named=False))

    column.short_description = field.verbose_name
    column.admin_order_field = name
    column.__name__ = name
    return column


def _shown(obj: models.Model, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str) and ISO_DATETIME.match(value):
        with contextlib.suppress(ValueError):
            return format_local(obj, dt.datetime.fromisoformat(value), named=False)
    return str(value)


def audit_history(obj: models.Model, limit: int = 30) -> list[dict[str, str]]:
    """Rows of (when, who, action, field, before, after), newest first, times in the org's zone."""
    entries = AuditEntry.objects.filter(organisation_id=obj.organisation_id, object_type=obj._meta.label_lower,
                                        object_id=str(obj.pk))[:limit]
    labels = {f.attname: str(f.verbose_name) for f in obj._meta.concrete_fields}
    rows: list[dict[str, str]] = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changed = [k for k in dict.fromkeys([*before, *after]) if k not in ("id", "organisation_id")
                   and _shown(obj, before.get(k)) != _shown(obj, after.get(k))]
        first = {"when": format_local(obj, entry.at, named=False), "who": entry.actor, "action": entry.action}
        for i, key in enumerate(changed or [None]):
            row = first if i == 0 else {"when": "", "who": "", "action": ""}
            rows.append({**row, "field": labels.get(key, key or "—"),
                         "before": _shown(obj, before.get(key)) if key else "",
                         "after": _shown(obj, after.get(key)) if key else ""})
    return rows


def _visible_inputs(form) -> list[str]:
    return [name for name, field in form.fields.items()
            if name not in ("DELETE", "ORDER") and not field.widget.is_hidden and not field.disabled]


def _editable(context) -> bool:
    """Whether a change page has anything a person could change (its form or an inline's)."""
    adminform = context.get("adminform")
    if adminform is not None and _visible_inputs(adminform.form):
        return True
    for inline in context.get("inline_admin_formsets", []):
        formset = inline.formset
        if getattr(formset, "can_delete", False) and inline.has_delete_permission:
            return True
        forms = list(formset.forms) + ([formset.empty_form] if inline.has_add_permission else [])
        if any(_visible_inputs(f) for f in forms):
            return True
    return False


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
        form = tenancy_checked(super().get_form(request, obj, **kwargs), request, self.write_permission)
        roles = member_roles(request)
        if "organisation" in form.base_fields and len(roles) == 1:
            form.base_fields["organisation"].initial = next(iter(roles))
        return form

    def get_changelist_form(self, request, **kwargs):
        return tenancy_checked(super().get_changelist_form(request, **kwargs), request, self.write_permission)

    def get_formsets_with_inlines(self, request, obj=None):
        permission = self.write_permission
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            yield type(formset.__name__, (OrgInlineFormSetMixin, formset), {
                "form": tenancy_checked(formset.form, request, permission)}), inline

    def get_readonly_fields(self, request, obj=None):
        # A row never moves to another organisation: its references and children stay where they are.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.org_field not in fields:
            fields.append(self.org_field)
        return fields

    def get_list_display(self, request):
        return [local_column(self.model, name) if self._is_datetime(name) else name
                for name in super().get_list_display(request)]

    def _is_datetime(self, name) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return isinstance(self.model._meta.get_field(name), models.DateTimeField)
        except FieldDoesNotExist:  # a method or property, shown as it is
            return False

    # -- change pages: the object's organisation's zone, service refusals as messages, history
    def _form_zone(self, request, object_id):
        if object_id is not None:
            obj = self.get_object(request, unquote(object_id))
            return zone_of(obj) if getattr(obj, "organisation_id", None) else None
        roles = member_roles(request)
        posted = request.POST.get(self.org_field, "") if request.method == "POST" else ""
        if posted.isdigit() and int(posted) in roles:
            return zone_of(int(posted))
        return zone_of(next(iter(roles))) if len(roles) == 1 else None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        zone = self._form_zone(request, object_id)
        try:
            with timezone.override(zone) if zone else contextlib.nullcontext():
                response = super().changeform_view(request, object_id, form_url, extra_context)
                # Render now: the zone must hold while the dates are printed.
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response
        except PassgateError as exc:
            # The transaction is rolled back: nothing of this save was kept.
            self.message_user(request, f"Refused — {exc.field + ': ' if exc.field else ''}{error_sentence(exc)}",
                              messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and not _editable(context):
            # Nothing on the page can be changed (the services carry the changes): say so.
            context.update(title=f"View {self.opts.verbose_name}", show_save=False, show_save_and_continue=False,
                           show_save_and_add_another=False, show_save_as_new=False)
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if obj is not None and obj.pk is not None and getattr(obj, "organisation_id", None):
            response.context_data["passgate_parent_template"] = select_template(
                [response.template_name] if isinstance(response.template_name, str) else response.template_name)
            response.context_data["audit_history"] = audit_history(obj)
            response.context_data["audit_history_url"] = (
                reverse("admin:orgs_auditentry_changelist") + f"?object_type={obj._meta.label_lower}&q={obj.pk}")
            response.template_name = "admin/passgate/change_form.html"
        return response

    # -- writes go through the services; a room overrides these three to call its own
    def create_row(self, actor: Actor, model: type[models.Model], values: dict[str, Any]) -> models.Model:
        return create_scoped(actor, model, self.write_permission, **values)

    def update_row(self, actor: Actor, obj: models.Model, values: dict[str, Any]) -> models.Model:
        return update_scoped(actor, obj, self.write_permission, **values)

    def delete_row(self, actor: Actor, obj: models.Model) -> None:
        delete_scoped(actor, obj, self.write_permission)

    def save_model(self, request, obj, form, change) -> None:
        actor = actor_for(request, obj.organisation)
        if change:
            stored = type(obj)._default_manager.get(pk=obj.pk)
            saved = self.update_row(actor, stored, model_values(form, obj, form.changed_data))
        else:
            saved = self.create_row(actor, type(obj), model_values(form, obj))
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change) -> None:
        """Inline rows through the same services as the parent, each one audited."""
        parent = formset.instance
        actor = actor_for(request, parent.organisation)
        fk = getattr(formset, "fk", None)
        parent_key = (fk.name,) if fk is not None else ()
        deleted_forms = formset.deleted_forms
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row_form in formset.initial_forms:
            obj = row_form.instance
            if obj.pk is None:
                continue
            if row_form in deleted_forms:
                self.delete_row(actor, obj)
                formset.deleted_objects.append(obj)
            elif row_form.has_changed():
                stored = type(obj)._default_manager.get(pk=obj.pk)
                saved = self.update_row(actor, stored, model_values(row_form, obj, row_form.changed_data, parent_key))
                adopt(obj, saved)
                formset.changed_objects.append((obj, row_form.changed_data))
        for row_form in formset.extra_forms:
            if not row_form.has_changed() or (formset.can_delete and formset._should_delete_form(row_form)):
                continue
            obj = row_form.instance
            values = model_values(row_form, obj, exclude=parent_key)
            if fk is not None:
                values[fk.name] = parent
            adopt(obj, self.create_row(actor, type(obj), values))
            formset.new_objects.append(obj)

    def delete_model(self, request, obj) -> None:
        self.delete_row(actor_for(request, obj.organisation), obj)

    def delete_queryset(self, request, queryset) -> None:
        self.run_service(request, queryset, "Delete", self.delete_row)

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


class OrgScopedInline(admin.options.InlineModelAdmin):
    """Inline rows are read and written with the parent's rights: the member's role in
    the parent's organisation, against the parent admin's permission (not Django's
    per-model permissions, which members do not have)."""

    def _parent_permission(self) -> Permission:
        parent_admin = self.admin_site._registry.get(self.parent_model)
        return getattr(parent_admin, "write_permission", Permission.MANAGE_ORGANISATION)

    def has_view_permission(self, request, obj=None) -> bool:
        return bool(member_roles(request))

    def _may_write(self, request, obj=None) -> bool:
        roles = member_roles(request)
        if obj is not None:
            return role_allows(roles.get(getattr(obj, "organisation_id", None), ""), self._parent_permission())
        return any(role_allows(role, self._parent_permission()) for role in roles.values())

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_write(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_write(request, obj)


class OrgScopedTabularInline(OrgScopedInline, admin.TabularInline):
    pass


class OrgInlineFormSetMixin:
    """New inline rows default to their parent's organisation."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        org_id = getattr(self.instance, "organisation_id", None)
        if "organisation" in form.fields and org_id and not getattr(form.instance, "organisation_id", None):
            form.fields["organisation"].initial = org_id


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
