"""TIXnGO in the back office, added by the connector (the core rooms never import it): a ticket's
page shows what the wallet says of it (status, owner, holder, blockchain log), the tickets list
filters by wallet status, and a TIXNGO_TEMPLATE interface gets a preview of its templates against a
real ticket. Django's admin autodiscovery imports this module once every app is ready."""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from passgate.errors import PassgateError
from passgate.jobs.admin import InterfaceAdmin
from passgate.jobs.models import Interface
from passgate.orgs.admin_base import actor_for
from passgate.sales.admin import TicketAdmin
from passgate.sales.models import Ticket

from . import services
from .models import WalletLogEntry, WalletStatus, WalletTicket

NEVER = "NONE"


class WalletStatusFilter(admin.SimpleListFilter):
    title = "wallet status (TIXnGO)"
    parameter_name = "wallet_status"

    def lookups(self, request, model_admin):
        return [*WalletStatus.choices, (NEVER, "Not in the wallet")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == NEVER:
            return queryset.filter(wallet__isnull=True)
        if value in WalletStatus.values:
            return queryset.filter(wallet__wallet_status=value)
        return queryset


class TicketWithWalletAdmin(TicketAdmin):
    list_filter = [*TicketAdmin.list_filter, WalletStatusFilter]
    # the wallet column takes the seat's place (the seat is on the ticket's page): the list must
    # still fit a 1366 px screen
    list_display = [*(c for c in TicketAdmin.list_display if c != "seat"), "wallet_state"]
    list_select_related = [*TicketAdmin.list_select_related, "wallet"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "wallet_panel"]

    @admin.display(description="wallet (TIXnGO)", ordering="wallet__wallet_status")
    def wallet_state(self, obj):
        return obj.wallet.wallet_status if _has_wallet(obj) else "—"

    @admin.display(description="TIXnGO wallet")
    def wallet_panel(self, obj):
        wallet = WalletTicket.objects.filter(organisation=obj.organisation, ticket=obj).first()
        log = WalletLogEntry.objects.filter(organisation=obj.organisation, ticket=obj).order_by("at", "id")
        return render_to_string("admin/connector_tixngo/wallet_panel.html",
                                {"wallet": wallet, "log": log, "org": obj.organisation})


def _has_wallet(ticket: Ticket) -> bool:
    try:
        ticket.wallet  # noqa: B018 - the reverse one-to-one raises when absent
    except WalletTicket.DoesNotExist:
        return False
    return True


class InterfaceWithPreviewAdmin(InterfaceAdmin):
    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [*fields, "template_preview"] if obj is not None and obj.type == "TIXNGO_TEMPLATE" else fields

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "template_preview"]

    @admin.display(description="Templates")
    def template_preview(self, obj):
        if obj is None or obj.type != "TIXNGO_TEMPLATE":
            return "—"
        url = reverse("admin:connector_tixngo_template_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview the templates against a ticket</a>', url)

    def get_urls(self):
        extra = [path("<int:pk>/tixngo-preview/", self.admin_site.admin_view(self.preview_view),
                      name="connector_tixngo_template_preview")]
        return extra + super().get_urls()

    def preview_view(self, request, pk):
        """Pick a ticket → what injection would send for it; the templates typed here (unsaved) or saved."""
        interface = get_object_or_404(self.get_queryset(request), pk=pk, type="TIXNGO_TEMPLATE")
        actor = actor_for(request, interface.organisation)
        saved = services.saved_templates(interface.organisation)
        ticket_ref = (request.POST.get("ticket") or request.GET.get("ticket") or "").strip()
        typed = {field: request.POST.get(f"t_{field}", "") for field in services.FIELDS} \
            if request.method == "POST" else dict.fromkeys(services.FIELDS, "") | saved
        result, error = None, None
        if ticket_ref:
            try:
                ticket = _ticket_of(actor, ticket_ref)
                result = services.preview(actor, ticket.pk, {k: v for k, v in typed.items() if v.strip()})
            except PassgateError as exc:
                error = exc
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": interface,
                   "title": f"Template preview — {interface.name}", "fields": services.FIELDS, "typed": typed,
                   "ticket_ref": ticket_ref, "result": result, "error": error,
                   "variables": services.VARIABLES,
                   "change_url": reverse("admin:jobs_interface_change", args=[interface.pk])}
        return TemplateResponse(request, "admin/connector_tixngo/template_preview.html", context)


def _ticket_of(actor, ref: str) -> Ticket:
    """A ticket by id or barcode, in the actor's organisation."""
    from passgate.orgs.services import scoped_get

    if ref.isdigit() and len(ref) < 19:
        found = Ticket.objects.filter(organisation=actor.organisation, pk=int(ref)).first()
        if found:
            return found
    return scoped_get(actor, Ticket, field="ticket", barcode=ref)


for model, admin_class in ((Ticket, TicketWithWalletAdmin), (Interface, InterfaceWithPreviewAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, admin_class)
