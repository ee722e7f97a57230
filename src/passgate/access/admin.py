"""Back office for access control: sectors, doors, devices (enrol, roll, revoke),
access rules, scans (filters, barcode search), conflicts with a reconciliation
view, attendance per performance and sector. Writes go through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from passgate.catalog.models import Performance
from passgate.errors import PassgateError
from passgate.orgs.admin_base import OrgScopedAdmin, ReadOnlyAdmin, actor_for, member_roles
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission

from . import services
from .models import (
    AccessRule,
    AccessSettings,
    Device,
    DeviceStatus,
    Door,
    ExternalBarcode,
    ExternalProductMapping,
    Scan,
    ScanConflict,
    Sector,
)
from .reports import attendance, performance_attendance, reconciliation


class AccessAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ACCESS


@admin.register(Sector)
class SectorAdmin(AccessAdmin):
    list_display = ["code", "name", "organisation", "reentry_allowed", "interface", "admit_when_partner_unreachable"]
    search_fields = ["code", "name"]
    list_filter = ["reentry_allowed", "interface"]

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        if change:
            fields = {name: getattr(obj, name) for name in form.changed_data if name != "organisation"}
            services.update_sector(actor, Sector.objects.get(pk=obj.pk), **fields)
        else:
            created = services.create_sector(
                actor, obj.code, obj.name, reentry_allowed=obj.reentry_allowed, interface=obj.interface,
                connector_options=obj.connector_options,
                admit_when_partner_unreachable=obj.admit_when_partner_unreachable)
            obj.pk = created.pk


@admin.register(Door)
class DoorAdmin(AccessAdmin):
    list_display = ["code", "name", "sector", "organisation"]
    search_fields = ["code", "name"]
    list_filter = ["sector"]
    list_select_related = ["sector", "organisation"]


@admin.register(Device)
class DeviceAdmin(AccessAdmin):
    list_display = ["name", "kind", "status", "door", "token_prefix", "enrolled_at", "last_seen_at", "revoked_at"]
    list_filter = ["status", "kind", "door"]
    search_fields = ["name", "token_prefix"]
    list_select_related = ["door"]
    fields = ["organisation", "door", "name", "kind", "status", "token_prefix", "enrolled_at", "token_rolled_at",
              "revoked_at", "last_seen_at"]
    actions = ["roll_devices", "revoke_devices", "reinstate_devices"]

    def get_readonly_fields(self, request, obj=None):
        ro = ["status", "token_prefix", "enrolled_at", "token_rolled_at", "revoked_at", "last_seen_at"]
        return ro + (["organisation"] if obj else [])

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        if change:
            services.update_device(actor, Device.objects.get(pk=obj.pk),
                                   **{k: getattr(obj, k) for k in form.changed_data})
            return
        device, code = services.create_device(actor, obj.door, obj.name, obj.kind)
        obj.pk = device.pk
        self.message_user(request, format_html(
            "Enrolment code for <b>{}</b>: <code style='font-size:1.4em'>{}</code> — shown once; type it on the "
            "device (POST /api/v1/access/devices/enrol). Valid 7 days.", device.name, code), messages.WARNING)

    def _issue_enrolment_codes(self, request, queryset, service, sentence: str) -> None:
        """Run a service that gives each device a new enrolment code; show each code once, or
        the refusal in words."""
        for device in queryset:
            try:
                device, code = service(actor_for(request, device.organisation), device)
            except PassgateError as exc:
                self.message_user(request, f"{device}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, format_html(sentence, device.name, code), messages.WARNING)

    @admin.action(description="Roll: kill the token now and issue a new enrolment code", permissions=["change"])
    def roll_devices(self, request, queryset):
        self._issue_enrolment_codes(request, queryset, services.reenrol_device,
                                    "New enrolment code for <b>{}</b>: <code>{}</code>")

    @admin.action(description="Reinstate a revoked device: issue a new enrolment code", permissions=["change"])
    def reinstate_devices(self, request, queryset):
        self._issue_enrolment_codes(request, queryset, services.reinstate_device,
                                    "<b>{}</b> reinstated; enrolment code: <code>{}</code>")

    @admin.action(description="Revoke (refused at once)", permissions=["change"])
    def revoke_devices(self, request, queryset):
        self.run_service(request, queryset.exclude(status=DeviceStatus.REVOKED), "Revoke", services.revoke_device)


@admin.register(AccessRule)
class AccessRuleAdmin(AccessAdmin):
    list_display = ["sector", "product", "performance", "tariff", "category", "organisation"]
    list_filter = ["sector"]
    list_select_related = ["sector", "product", "performance", "tariff", "category"]

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        if change:
            services.delete_rule(actor, AccessRule.objects.get(pk=obj.pk))
        rule = services.add_rule(actor, obj.sector, obj.product, obj.performance, obj.tariff, obj.category)
        obj.pk = rule.pk

    def delete_model(self, request, obj):
        services.delete_rule(actor_for(request, obj.organisation), obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AccessSettings)
class AccessSettingsAdmin(AccessAdmin):
    list_display = ["organisation", "signed_barcodes", "updated_at"]

    def save_model(self, request, obj, form, change):
        services.set_signed_barcodes(actor_for(request, obj.organisation), obj.signed_barcodes)


@admin.register(ExternalProductMapping)
class ExternalProductMappingAdmin(AccessAdmin):
    list_display = ["source", "season_code", "product_code", "tariff", "organisation"]
    list_filter = ["source"]

    def save_model(self, request, obj, form, change):
        m = services.set_external_mapping(actor_for(request, obj.organisation), obj.source, obj.season_code,
                                          obj.product_code, obj.tariff)
        obj.pk = m.pk


@admin.register(ExternalBarcode)
class ExternalBarcodeAdmin(ReadOnlyAdmin):
    list_display = ["barcode", "source", "season_code", "product_code", "tariff", "status", "control_count",
                    "ticket"]
    list_filter = ["source", "status"]
    search_fields = ["barcode"]


REFRESH_SECONDS = 10  # the attendance page of a performance reloads itself (no script, no asset)


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = ["scanned_at", "barcode", "decision", "reason", "operation", "direction", "door", "device",
                    "source", "conflict", "postsync_status"]
    list_filter = ["decision", "reason", "operation", "direction", "source", "sector", "door", "device",
                   "postsync_status", "conflict", "scanned_at"]
    search_fields = ["=barcode", "=recorded_barcode", "nonce"]
    date_hierarchy = "scanned_at"
    list_select_related = ["door", "device"]
    show_full_result_count = False

    def get_urls(self):
        urls = [path("attendance/", self.admin_site.admin_view(self.attendance_view), name="access_attendance"),
                path("attendance/<int:performance_id>/", self.admin_site.admin_view(self.performance_attendance_view),
                     name="access_performance_attendance")]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "attendance_url": reverse("admin:access_attendance")}
        return super().changelist_view(request, extra_context)

    def attendance_view(self, request):
        orgs = _orgs(request)
        perf = request.GET.get("performance")
        sections = [{"organisation": org, "rows": attendance(org, performance_id=int(perf) if perf and
                                                             perf.isdigit() else None)} for org in orgs]
        context = {**self.admin_site.each_context(request), "title": "Attendance per performance and sector",
                   "sections": sections, "opts": self.model._meta}
        return TemplateResponse(request, "admin/access/attendance.html", context)

    def performance_attendance_view(self, request, performance_id):
        """One performance's doors now; the page reloads itself every REFRESH_SECONDS."""
        perf = Performance.objects.filter(pk=performance_id, organisation__in=_orgs(request)).select_related(
            "organisation").first()
        if perf is None:
            raise Http404("no such performance in your organisations")
        context = {**self.admin_site.each_context(request), "title": f"Attendance — {perf.code} {perf.name}",
                   "organisation": perf.organisation, "refresh_seconds": REFRESH_SECONDS, "opts": self.model._meta,
                   "report": performance_attendance(perf.organisation, perf)}
        return TemplateResponse(request, "admin/access/performance_attendance.html", context)


@admin.register(ScanConflict)
class ScanConflictAdmin(ReadOnlyAdmin):
    list_display = ["detected_at", "kind", "barcode", "sector", "performance", "scan_link", "other_link",
                    "resolved_at"]
    list_filter = ["kind", "sector", "performance", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["=barcode"]
    actions = ["resolve"]

    def scan_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:access_scan_change", args=[obj.scan_id]),
                           obj.scan_id)

    def other_link(self, obj):
        if not obj.other_scan_id:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:access_scan_change", args=[obj.other_scan_id]),
                           obj.other_scan_id)

    scan_link.short_description = "scan"
    other_link.short_description = "other scan"

    def has_change_permission(self, request, obj=None):
        return self._may_write(request, obj)

    @admin.action(description="Mark as resolved", permissions=["change"])
    def resolve(self, request, queryset):
        self.run_service(request, queryset.filter(resolved_at__isnull=True), "Resolve", services.resolve_conflict)

    def get_urls(self):
        urls = [path("reconciliation/", self.admin_site.admin_view(self.reconciliation_view),
                     name="access_reconciliation")]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "reconciliation_url": reverse("admin:access_reconciliation")}
        return super().changelist_view(request, extra_context)

    def reconciliation_view(self, request):
        show_all = request.GET.get("all") == "1"
        sections = [{"organisation": org, "groups": reconciliation(org, unresolved_only=not show_all)}
                    for org in _orgs(request)]
        context = {**self.admin_site.each_context(request), "title": "Reconciliation of offline conflicts",
                   "sections": sections, "show_all": show_all, "opts": self.model._meta}
        return TemplateResponse(request, "admin/access/reconciliation.html", context)


def _orgs(request):
    return list(Organisation.objects.filter(pk__in=list(member_roles(request))).order_by("code"))
