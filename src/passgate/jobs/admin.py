"""Back office for interfaces, schedules and executions. Saves go through
jobs.services; the secret is a write-only field (blank keeps the stored one)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from passgate.errors import PassgateError
from passgate.jobs import registry
from passgate.orgs.admin_base import OrgScopedAdmin, ReadOnlyAdmin, actor_for
from passgate.orgs.permissions import Permission

from . import services
from .apps import SYSTEM_TYPE
from .models import Execution, ExecutionItem, Interface, PartnerCall, Schedule

FORM_FIELD_OF = {"parameters": "parameters_text", "schedule.parameters": "parameters_text"}


def add_service_error(form: forms.Form, exc: PassgateError) -> None:
    field = FORM_FIELD_OF.get(exc.field or "", exc.field)
    if field not in form.fields:
        field = None
    lines = [d.get("message", "") for d in exc.details] or [exc.message]
    if exc.expected is not None and not exc.details:
        lines.append(f"expected: {exc.expected}; found: {exc.found}")
    form.add_error(field, lines)


# ---------------------------------------------------------------- interfaces

class InterfaceForm(forms.ModelForm):
    type = forms.ChoiceField(choices=registry.type_choices)
    secret = forms.CharField(
        required=False, strip=False, label="Secret (password / API key)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: never shown again. Leave blank to keep the stored secret.")
    clear_secret = forms.BooleanField(required=False, help_text="Remove the stored secret.")
    parameters_text = forms.CharField(
        required=False, label="Parameters", widget=forms.Textarea(attrs={"rows": 14, "cols": 90,
                                                                         "style": "font-family: monospace"}),
        help_text="JSON; // and /* */ comments are accepted. Each error names its line and JSON path.")

    class Meta:
        model = Interface
        fields = ["organisation", "type", "name", "url", "username", "parameters_text", "notify_emails",
                  "notify_on_warning", "enabled"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        organisation = data.get("organisation") or getattr(self.instance, "organisation", None)
        try:
            url, parameters, group = services.prepare_interface(data.get("type", ""), data.get("url", ""),
                                                                data.get("parameters_text", ""), organisation,
                                                                self.instance.pk)
            services.check_unique(organisation, (data.get("name") or "").strip(), group, self.instance.pk)
        except PassgateError as exc:
            add_service_error(self, exc)
        return data

    def _post_clean(self):
        # Fill the instance, but leave validation (and the constraints) to the services.
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)


@admin.register(Interface)
class InterfaceAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_INTERFACES
    form = InterfaceForm
    list_display = ["name", "type", "organisation", "url", "enabled", "secret_state", "updated_at"]
    list_filter = ["type", "enabled"]
    search_fields = ["name", "url", "username"]
    actions = ["test_connection", "set_up_or_repair"]
    readonly_fields = ["secret_state", "normalised_parameters", "readiness_checklist", "schedules_link",
                       "created_at", "updated_at"]

    # the built-in maintenance interface: shown, never edited nor deleted (its schedules are)
    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and obj.type == SYSTEM_TYPE)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.type == SYSTEM_TYPE)

    def get_fields(self, request, obj=None):
        fields = ["organisation", "type", "name", "url", "username", "secret", "clear_secret", "secret_state",
                  "parameters_text", "normalised_parameters", "notify_emails", "notify_on_warning", "enabled"]
        if obj is not None:
            if registry.types().get(obj.type) and registry.types()[obj.type].readiness is not None:
                fields.insert(fields.index("parameters_text"), "readiness_checklist")
            fields += ["schedules_link", "created_at", "updated_at"]
        return fields

    @admin.display(description="Readiness")
    def readiness_checklist(self, obj):
        spec = registry.types().get(obj.type) if obj else None
        if spec is None or spec.readiness is None:
            return "-"
        colours = {"DONE": "#2e7d32", "MISSING": "#b26a00", "WRONG": "#c62828"}
        rows = format_html_join(
            "", '<tr class="readiness-{}"><td>{}.</td><td>{}</td><td style="color:{};font-weight:bold">{}</td>'
                '<td>{}</td><td>{}</td></tr>',
            ((c.status.lower(), c.step, c.title, colours.get(c.status, "inherit"), c.status, c.detail, c.fix)
             for c in spec.readiness(obj)))
        return format_html('<table class="readiness"><tr><th></th><th>Step</th><th>State</th><th>What</th>'
                           "<th>Fix</th></tr>{}</table>", rows)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organisation"] if obj else self.readonly_fields

    @admin.display(description="Secret")
    def secret_state(self, obj):
        return "stored (hidden)" if obj and obj.has_secret else "none"

    @admin.display(description="Parameters as understood")
    def normalised_parameters(self, obj):
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.parameters, indent=2, ensure_ascii=False)) if obj else "-"

    @admin.display(description="Schedules")
    def schedules_link(self, obj):
        url = reverse("admin:jobs_schedule_changelist") + f"?interface__id__exact={obj.pk}"
        return format_html('<a href="{}">{} schedule(s)</a>', url, obj.schedules.count())

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data.get(k) for k in ["type", "name", "url", "username", "parameters_text",
                                                      "notify_emails", "notify_on_warning", "enabled"]}
        secret = form.cleaned_data.get("secret") or ""
        actor = actor_for(request, obj.organisation)
        if change:
            saved = services.update_interface(actor, Interface.objects.get(pk=obj.pk), secret=secret,
                                              clear_secret=bool(form.cleaned_data.get("clear_secret")), **data)
        else:
            saved = services.create_interface(actor, secret=secret, **data)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj):
        services.delete_interface(actor_for(request, obj.organisation), obj)

    @admin.action(description="Test connection (calls the partner)", permissions=["change"])
    def test_connection(self, request, queryset):
        for interface in queryset:
            try:
                report = services.test_connection(actor_for(request, interface.organisation), interface)
            except PassgateError as exc:
                self.message_user(request, f"{interface.name}: {exc.message}", messages.ERROR)
                continue
            detail = "; ".join(f"{c}: {'ok' if ok else 'NOT OK'} ({d})" for c, ok, d in report.checks)
            self.message_user(request, f"{interface.name}: {report.message}" + (f" — {detail}" if detail else ""),
                              messages.SUCCESS if report.ok else messages.ERROR)


    @admin.action(description="Set up / repair (creates what the readiness checklist says is missing)",
                  permissions=["change"])
    def set_up_or_repair(self, request, queryset):
        for interface in queryset:
            spec = registry.types().get(interface.type)
            if spec is None or spec.repair is None:
                self.message_user(request, f"{interface.name}: the {interface.type} connector has no set-up "
                                           "assistant", messages.WARNING)
                continue
            try:
                steps = spec.repair(actor_for(request, interface.organisation), interface)
            except PassgateError as exc:
                lines = [d.get("message", "") for d in exc.details] or [exc.message]
                self.message_user(request, f"{interface.name}: " + " ".join(lines), messages.ERROR)
                continue
            self.message_user(request, f"{interface.name}: " + "; ".join(steps), messages.SUCCESS)


# ---------------------------------------------------------------- schedules

class ScheduleForm(forms.ModelForm):
    function = forms.ChoiceField(choices=registry.function_choices)
    parameters_text = forms.CharField(
        required=False, label="Function parameters",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90, "style": "font-family: monospace"}),
        help_text="JSON typed by the function (filters, …); // comments accepted.")

    class Meta:
        model = Schedule
        fields = ["organisation", "interface", "function", "name", "enabled", "frequency_minutes", "batch_size",
                  "parameters_text", "date_from", "simulation"]

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("interface"):
            return data
        probe = Schedule(organisation=data.get("organisation") or data["interface"].organisation,
                         interface=data["interface"], function=data.get("function", ""),
                         frequency_minutes=data.get("frequency_minutes") or 0, batch_size=data.get("batch_size"),
                         parameters_text=data.get("parameters_text") or "", date_from=data.get("date_from"),
                         simulation=bool(data.get("simulation")))
        try:
            services.prepare_schedule(probe)
        except PassgateError as exc:
            add_service_error(self, exc)
        return data

    def _post_clean(self):
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)


@admin.register(Schedule)
class ScheduleAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_INTERFACES
    form = ScheduleForm
    list_display = ["__str__", "interface", "function", "enabled", "frequency_minutes", "batch_size", "simulation",
                    "date_from", "next_run_at", "running", "last_status"]
    list_filter = ["enabled", "function", "interface", "simulation"]
    search_fields = ["name", "interface__name", "function"]
    actions = ["run_now"]
    readonly_fields = ["warnings", "watermark", "next_run_at", "running", "executions_link", "state_values"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.interface.type == SYSTEM_TYPE)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.interface.type == SYSTEM_TYPE:  # built-in: enabled and frequency only
            return [*self.readonly_fields, "organisation", "interface", "function", "name", "batch_size",
                    "parameters_text", "date_from", "simulation"]
        return [*self.readonly_fields, "organisation"] if obj else []

    def get_fields(self, request, obj=None):
        fields = ["organisation", "interface", "function", "name", "enabled", "frequency_minutes", "batch_size",
                  "parameters_text", "date_from", "simulation"]
        return fields + (self.readonly_fields if obj else [])

    @admin.display(description="Warnings")
    def warnings(self, obj):
        found = services.schedule_warnings(obj) if obj else []
        return mark_safe("<br>").join(format_html('<strong style="color:#b35c00">⚠ {}</strong>', w)
                                        for w in found) if found else "none"

    @admin.display(description="Watermark (start of the last run ending OK or WARNING)")
    def watermark(self, obj):
        return services.watermark(obj) or "never ran OK — from the beginning"

    @admin.display(description="Running", boolean=True)
    def running(self, obj):
        return bool(obj.lease_token)

    @admin.display(description="State kept between runs")
    def state_values(self, obj):
        values = list(obj.state_values.order_by("key")) if obj else []
        rows = format_html_join("", "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                                ((v.key, json.dumps(v.value, ensure_ascii=False), v.updated_at,
                                  f"run #{v.execution_id}" if v.execution_id else v.updated_by) for v in values))
        table = format_html("<table><tr><th>Key</th><th>Value</th><th>Updated</th><th>By</th></tr>{}</table>",
                            rows) if values else "(none yet)"
        url = reverse("admin:jobs_schedule_state", args=[obj.pk]) if obj else ""
        return format_html('{}<p><strong style="color:#b35c00">⚠ {}</strong></p>'
                           '<p><a href="{}">Edit a value (administrators only)</a></p>',
                           table, services.STATE_WARNING, url)

    def get_urls(self):
        from django.urls import path

        extra = [path("<int:pk>/state/", self.admin_site.admin_view(self.state_view), name="jobs_schedule_state")]
        return extra + super().get_urls()

    def state_view(self, request, pk):
        """Edit one state value: administrators only (the service decides), with the warning."""
        from django.shortcuts import get_object_or_404
        from django.template.response import TemplateResponse

        schedule = get_object_or_404(self.get_queryset(request), pk=pk)
        actor = actor_for(request, schedule.organisation)
        change_url = reverse("admin:jobs_schedule_change", args=[schedule.pk])
        key = request.POST.get("key", request.GET.get("key", "")) if request.method == "POST" else \
            request.GET.get("key", "")
        value_text = request.POST.get("value", "")
        error = None
        try:
            values = services.schedule_state(actor, schedule)
            if request.method == "POST":
                services.set_schedule_state(actor, schedule, key, value_text)
                self.message_user(request, f"State value {key!r} saved: the next run starts from it.",
                                  messages.WARNING)
                return HttpResponseRedirect(change_url)
        except PassgateError as exc:
            if exc.http_status == 403:
                self.message_user(request, f"Refused — {exc.message}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            error = exc
            values = list(schedule.state_values.order_by("key"))
        if not value_text and key:
            current = next((v for v in values if v.key == key), None)
            value_text = json.dumps(current.value, indent=2, ensure_ascii=False) if current else ""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": schedule,
                   "title": f"State of {schedule}", "values": values, "key": key, "value_text": value_text,
                   "error": error, "warning": services.STATE_WARNING, "change_url": change_url}
        return TemplateResponse(request, "admin/jobs/schedule/state.html", context)

    @admin.display(description="Last run")
    def last_status(self, obj):
        return obj.executions.values_list("status", flat=True).first() or "-"

    @admin.display(description="Executions")
    def executions_link(self, obj):
        url = reverse("admin:jobs_execution_changelist") + f"?schedule__id__exact={obj.pk}"
        return format_html('<a href="{}">{} execution(s)</a>', url, obj.executions.count())

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        # a built-in schedule's form holds only what may change (enabled, frequency)
        data = {k: form.cleaned_data.get(k) for k in ["interface", "function", "name", "enabled",
                                                      "frequency_minutes", "batch_size", "parameters_text",
                                                      "date_from", "simulation"] if k in form.cleaned_data}
        if "name" in data:
            data["name"] = data["name"] or ""
        if change:
            saved = services.update_schedule(actor, Schedule.objects.get(pk=obj.pk), **data)
        else:
            saved = services.create_schedule(actor, **data)
        obj.pk = saved.pk
        for warning in services.schedule_warnings(saved):
            self.message_user(request, warning, messages.WARNING)

    def delete_model(self, request, obj):
        services.delete_schedule(actor_for(request, obj.organisation), obj)

    def response_change(self, request, obj):
        if "_run_now" in request.POST:
            try:
                services.run_now(actor_for(request, obj.organisation), Schedule.objects.get(pk=obj.pk))
            except PassgateError as exc:
                self.message_user(request, f"Run now refused — {exc.message}", messages.ERROR)
            else:
                self.message_user(request, "Run queued for the workers; see the executions.", messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description="Run now", permissions=["change"])
    def run_now(self, request, queryset):
        self.run_service(request, queryset, "Run now (queued for the workers)",
                         lambda actor, schedule: services.run_now(actor, schedule))


# ---------------------------------------------------------------- executions

def seconds(duration) -> str:
    """A duration as people read it: "0.36 s", "12.4 s", "3 min 05 s"."""
    if duration is None:
        return "—"
    total = duration.total_seconds()
    if total < 10:
        return f"{total:.2f} s"
    if total < 60:
        return f"{total:.1f} s"
    minutes, secs = divmod(int(round(total)), 60)
    return f"{minutes} min {secs:02d} s"


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "interface", "function", "status", "trigger", "took", "selected",
                    "done", "failed", "skipped", "remaining", "summary_short"]
    list_filter = ["status", "interface", "function", "trigger", "simulation", "started_at"]
    date_hierarchy = "started_at"
    search_fields = ["items__object_ref", "error", "summary"]
    list_select_related = ["interface"]
    readonly_fields = ["organisation", "schedule", "interface", "function", "status", "trigger", "started_at",
                       "ended_at", "took", "heartbeat_at", "worker", "task_id", "since", "date_from_used", "simulation",
                       "batch_size", "selected", "done", "failed", "skipped", "remaining", "summary", "error",
                       "error_cause", "notice_status", "notice_attempts", "notice_error", "notified_at",
                       "items_link", "calls_link"]
    fields = readonly_fields

    def get_search_results(self, request, queryset, search_term):
        qs, distinct = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit():  # a ticket id
            qs = qs | queryset.filter(items__ticket_id=int(term))
            distinct = True
        return qs, distinct

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in {"schedule__id__exact"} or super().lookup_allowed(lookup, value, request)

    @admin.display(description="duration")
    def took(self, obj):
        return seconds(obj.duration)

    @admin.display(description="Summary")
    def summary_short(self, obj):
        text = obj.error or obj.summary
        return text[:100] + ("…" if len(text) > 100 else "")

    @admin.display(description="Items")
    def items_link(self, obj):
        url = reverse("admin:jobs_executionitem_changelist") + f"?execution__id__exact={obj.pk}"
        return format_html('<a href="{}">{} item(s)</a>', url, obj.items.count())

    @admin.display(description="Partner calls")
    def calls_link(self, obj):
        url = reverse("admin:jobs_partnercall_changelist") + f"?execution__id__exact={obj.pk}"
        return format_html('<a href="{}">{} call(s)</a>', url, obj.partner_calls.count())


@admin.register(ExecutionItem)
class ExecutionItemAdmin(ReadOnlyAdmin):
    list_display = ["at", "execution", "ticket_id", "object_ref", "outcome", "partner_code", "message"]
    list_filter = ["outcome", "execution__function", "execution__interface"]
    search_fields = ["object_ref", "partner_code", "message"]
    readonly_fields = ["organisation", "execution", "ticket", "object_ref", "outcome", "partner_code", "message",
                       "at"]
    fields = readonly_fields
    list_select_related = ["execution"]

    def get_search_results(self, request, queryset, search_term):
        qs, distinct = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit():
            qs = qs | queryset.filter(ticket_id=int(term))
        return qs, distinct

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in {"execution__id__exact"} or super().lookup_allowed(lookup, value, request)


@admin.register(PartnerCall)
class PartnerCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "execution", "method", "path", "status", "duration_ms", "attempt", "error"]
    list_filter = ["method", "status"]
    search_fields = ["path", "error"]
    readonly_fields = ["organisation", "execution", "at", "method", "path", "status", "duration_ms", "attempt",
                       "error"]
    fields = readonly_fields

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in {"execution__id__exact"} or super().lookup_allowed(lookup, value, request)
