from functools import partial

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from passgate.orgs.admin_base import OrgScopedAdmin, OrgScopedTabularInline, export_csv
from passgate.orgs.permissions import Permission

from . import desk, services, timeline
from .models import Contact, Order, OrderEmail, RetiredBarcode, Ticket


def timeline_table(organisation, items):
    """A trail as an HTML table, times in the organisation's zone."""
    if not items:
        return "—"
    rows = format_html_join(
        "", '<tr class="timeline-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        ((e["kind"], e["at"].strftime("%Y-%m-%d %H:%M:%S"), e["kind"],
          format_html('<a href="{}">{}</a>', e["link"], e["title"]) if e["link"] else e["title"],
          e["actor"] or "—", e["ticket_id"] or "order") for e in items))
    return format_html('<table class="timeline"><thead><tr><th>When ({})</th><th>What</th><th>Event</th>'
                       '<th>By</th><th>Ticket</th></tr></thead><tbody>{}</tbody></table>',
                       organisation.time_zone, rows)


TICKET_CSV_COLUMNS = ["file_number", "barcode", "status", "status_changed_at", "season_code", "product_code",
                      "performance_code", "tariff_code", "category_code", "seat", "price", "currency",
                      "beneficiary", "control_count", "last_controlled_at"]


@admin.register(Contact)
class ContactAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_CONTACTS
    list_display = ["number", "first_name", "last_name", "email", "country_code", "payment_modes"]
    search_fields = ["number", "first_name", "last_name", "email", "id_number"]
    list_filter = ["country_code", "gender"]

    def create_row(self, actor, model, values):
        return services.create_contact(actor, **values) if model is Contact else super().create_row(actor, model, values)

    def update_row(self, actor, obj, values):
        return services.update_contact(actor, obj, **values) if isinstance(obj, Contact) else \
            super().update_row(actor, obj, values)


class TicketInline(OrgScopedTabularInline):
    model = Ticket
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["barcode", "product", "performance", "tariff", "category", "seat", "price", "status"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class OrderEmailInline(OrgScopedTabularInline):
    """The e-mails of the order's tickets and what became of each (the worker records it)."""

    model = OrderEmail
    extra = 0
    can_delete = False
    verbose_name_plural = "E-mails"
    fields = ["requested_at", "requested_by", "recipient", "status", "sent_at", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _own_urls(model_admin, routes):
    """Admin URLs bound to this admin, behind the admin site's login; the buttons' only by POST."""
    opts = model_admin.model._meta

    def view_of(view, name):
        bound = partial(view, model_admin)
        return model_admin.admin_site.admin_view(require_POST(bound) if name == "button" else bound)

    return [path(route, view_of(view, name), name=f"{opts.app_label}_{opts.model_name}_{name}")
            for route, view, name in routes]


@admin.register(Order)
class OrderAdmin(OrgScopedAdmin):
    write_permission = Permission.SELL
    list_display = ["file_number", "organisation", "buyer", "channel", "point_of_sale", "status", "total",
                    "currency", "created_at"]
    list_filter = ["status", "channel", "payment_mode"]
    search_fields = ["file_number", "external_reference", "buyer__last_name", "buyer__first_name",
                     "buyer__number", "tickets__barcode"]
    date_hierarchy = "created_at"
    inlines = [TicketInline, OrderEmailInline]
    actions = ["cancel_orders"]
    list_select_related = ["buyer", "channel", "point_of_sale", "organisation"]
    change_form_template = "admin/sales/order/change_form.html"
    change_list_template = "admin/sales/order/change_list.html"

    def get_urls(self):
        return _own_urls(self, [
            ("sell/", desk.sell_view, "sell"),
            ("sell/capacity/", desk.capacity_view, "sell_capacity"),
            ("<int:object_id>/pdf/", desk.order_pdf_view, "pdf"),
            ("<int:object_id>/do/<str:operation>/", desk.order_button, "button"),
        ]) + super().get_urls()

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.concrete_fields] + ["trail"]

    @admin.display(description="timeline")
    def trail(self, obj):
        return timeline_table(obj.organisation, timeline.order_timeline(obj.organisation, obj))

    def add_view(self, request, form_url="", extra_context=None):
        # "Add" on the index and the Orders list is a sale: the desk, through the sell service.
        return HttpResponseRedirect(reverse("admin:sales_order_sell"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra = {"may_sell": order is not None and self._may_write(request, order), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def has_delete_permission(self, request, obj=None):
        return False  # files are cancelled, never deleted

    @admin.action(description="Cancel selected files (all their tickets)", permissions=["change"])
    def cancel_orders(self, request, queryset):
        self.run_service(request, queryset, "Cancel", services.cancel_order)


@admin.register(Ticket)
class TicketAdmin(OrgScopedAdmin):
    write_permission = Permission.SELL
    # status early and the narrow columns only, so that it shows on a 1366 px screen
    list_display = ["barcode", "status", "file_number", "performance_or_product", "tariff", "seat", "holder",
                    "control_count"]
    list_filter = ["status", "product", "performance", "tariff", "category", "inside"]
    search_fields = ["barcode", "order__file_number", "retired_barcodes__barcode", "product__code",
                     "performance__code", "cultural_contact__last_name",
                     "cultural_contact__first_name", "order__buyer__last_name", "order__buyer__first_name"]
    list_select_related = ["order", "order__buyer", "product", "performance", "tariff", "category",
                           "cultural_contact"]
    actions = ["print_tickets", "reprint_tickets", "cancel_tickets", "invalidate_tickets", "export_csv"]
    date_hierarchy = "status_changed_at"
    change_form_template = "admin/sales/ticket/change_form.html"

    def get_urls(self):
        return _own_urls(self, [
            ("<int:object_id>/pdf/", desk.ticket_pdf_view, "pdf"),
            ("<int:object_id>/do/<str:operation>/", desk.ticket_button, "button"),
        ]) + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        extra = {"may_sell": ticket is not None and self._may_write(request, ticket), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Ticket._meta.concrete_fields] + ["previous_barcodes", "scans", "trail"]

    @admin.display(description="scans")
    def scans(self, obj):
        return format_html('<a href="{}?ticket__id__exact={}">All scans of this ticket</a>',
                           reverse("admin:access_scan_changelist"), obj.pk)

    @admin.display(description="timeline")
    def trail(self, obj):
        return timeline_table(obj.organisation, timeline.ticket_timeline(obj.organisation, obj))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change page is read-only; actions carry the changes (through services).
        return super().has_change_permission(request, obj) if obj is None else False

    @admin.display(description="file", ordering="order__file_number")
    def file_number(self, obj):
        return obj.order.file_number

    @admin.display(description="performance / product", ordering="performance__starts_at")
    def performance_or_product(self, obj):
        return obj.performance.code if obj.performance_id else obj.product.code

    @admin.display(description="holder")
    def holder(self, obj):
        contact = obj.cultural_contact or obj.order.buyer
        return contact.full_name if contact else "—"

    @admin.display(description="previous barcodes")
    def previous_barcodes(self, obj):
        return ", ".join(RetiredBarcode.objects.filter(ticket=obj).values_list("barcode", flat=True)) or "—"

    @admin.action(description="Print selected tickets", permissions=["change"])
    def print_tickets(self, request, queryset):
        self.run_service(request, queryset, "Print", services.print_ticket)

    @admin.action(description="Reprint selected tickets (new barcode; the old one is invalidated for ever)", permissions=["change"])
    def reprint_tickets(self, request, queryset):
        self.run_service(request, queryset, "Reprint", services.reprint_ticket)

    @admin.action(description="Cancel selected tickets", permissions=["change"])
    def cancel_tickets(self, request, queryset):
        self.run_service(request, queryset, "Cancel", services.cancel_ticket)

    @admin.action(description="Invalidate selected tickets", permissions=["change"])
    def invalidate_tickets(self, request, queryset):
        self.run_service(request, queryset, "Invalidate", services.invalidate_ticket)

    @admin.action(description="Export selected tickets as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        rows = (
            [t.order.file_number, t.barcode, t.status, t.status_changed_at.isoformat(), t.product.season.code,
             t.product.code, t.performance.code if t.performance else "", t.tariff.code,
             t.category.code if t.category else "", t.seat, t.price, t.currency,
             (t.cultural_contact or t.order.buyer).full_name if (t.cultural_contact or t.order.buyer) else "",
             t.control_count, t.last_controlled_at.isoformat() if t.last_controlled_at else ""]
            for t in queryset.select_related("order__buyer", "product__season", "performance", "tariff",
                                             "category", "cultural_contact").iterator(chunk_size=2000)
        )
        return export_csv("tickets.csv", TICKET_CSV_COLUMNS, rows)


