"""The hotel PMS in the back office: links with their status (connected, last LA, last resync),
the postings to room bills, and the stays passgate holds as in-house. Writes go through services."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from passgate.orgs.admin_base import OrgScopedAdmin, ReadOnlyAdmin
from passgate.orgs.permissions import Permission

from . import services
from .models import InHouseStay, PmsLink, PmsPosting


@admin.register(PmsLink)
class PmsLinkAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_INTERFACES
    list_display = ["name", "location", "host", "port", "state", "last_alive_at", "last_resync_at", "in_house",
                    "last_error"]
    readonly_fields = ["state", "connected_at", "last_alive_at", "last_resync_at", "last_error"]

    @admin.display(description="link")
    def state(self, obj: PmsLink):
        if not obj.enabled:
            return "disabled"
        return format_html("<strong>{}</strong>", "connected") if obj.connected else "down"

    @admin.display(description="in house")
    def in_house(self, obj: PmsLink) -> int:
        return len(services.stays.live_stays(obj.location))

    def create_row(self, actor, model, values):
        values.pop("organisation", None)
        return services.create_link(actor, values.pop("location"), **values)

    def update_row(self, actor, obj, values):
        return services.update_link(actor, obj, **values)


@admin.register(PmsPosting)
class PmsPostingAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "link", "room_number", "last_name", "amount", "status", "attempts", "answer",
                    "ticket", "created_at", "answered_at"]
    list_filter = ["status", "link"]
    search_fields = ["room_number", "last_name", "reservation", "=sequence"]

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj: PmsPosting) -> str:
        return f"{obj.amount_cents / 100:.2f} {obj.currency}"


@admin.register(InHouseStay)
class InHouseStayAdmin(ReadOnlyAdmin):
    """The hotel stays passgate holds as in-house (live PMS tickets): what a resync reconciles."""

    list_display = ["room_number", "last_name", "pms_reservation", "username", "status", "location", "expires_at"]
    list_filter = ["location"]
    search_fields = ["room_number", "last_name", "pms_reservation"]
