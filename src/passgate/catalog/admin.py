from django.contrib import admin

from passgate.orgs.admin_base import OrgScopedAdmin, OrgScopedTabularInline

from . import services
from .models import Category, Contingent, Performance, PointOfSale, Product, SalesChannel, Season, Tariff


class CatalogAdmin(OrgScopedAdmin):
    """Catalogue rows, their inline rows included, are written by catalog.services."""

    def create_row(self, actor, model, values):
        return services.create(actor, model, **values)

    def update_row(self, actor, obj, values):
        return services.update(actor, obj, **values)

    def delete_row(self, actor, obj):
        services.delete(actor, obj)


class TariffInline(OrgScopedTabularInline):
    model = Tariff
    extra = 0
    fields = ["organisation", "code", "name", "price"]


class CategoryInline(OrgScopedTabularInline):
    model = Category
    extra = 0
    fields = ["organisation", "code", "name"]


@admin.register(Season)
class SeasonAdmin(CatalogAdmin):
    list_display = ["code", "name", "organisation", "starts_on", "ends_on"]
    search_fields = ["code", "name"]


@admin.register(Product)
class ProductAdmin(CatalogAdmin):
    list_display = ["code", "name", "family", "season", "validity", "max_controls", "capacity", "sold_count"]
    list_filter = ["family", "validity", "season"]
    search_fields = ["code", "name"]
    readonly_fields = ["sold_count"]
    inlines = [TariffInline, CategoryInline]
    fieldsets = [
        (None, {"fields": ["organisation", "season", "code", "name", "family", "capacity", "sold_count"]}),
        ("Validity and controls (open passes, memberships, season tickets)", {
            "fields": ["validity", "valid_from", "valid_until", "validity_hours", "max_controls",
                       "max_controls_per_day"]}),
    ]


@admin.register(Performance)
class PerformanceAdmin(CatalogAdmin):
    list_display = ["code", "name", "product", "starts_at", "ends_at", "doors_open_at", "venue_site",
                    "capacity", "sold_count"]
    list_filter = ["product", "venue_city"]
    search_fields = ["code", "name", "venue_site"]
    date_hierarchy = "starts_at"
    readonly_fields = ["sold_count"]


@admin.register(Tariff)
class TariffAdmin(CatalogAdmin):
    list_display = ["code", "name", "product", "price"]
    list_filter = ["product"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(CatalogAdmin):
    list_display = ["code", "name", "product"]
    list_filter = ["product"]
    search_fields = ["code", "name"]


@admin.register(SalesChannel)
class SalesChannelAdmin(CatalogAdmin):
    list_display = ["code", "name", "type"]
    list_filter = ["type"]
    search_fields = ["code", "name"]


@admin.register(PointOfSale)
class PointOfSaleAdmin(CatalogAdmin):
    list_display = ["code", "name", "channel"]
    list_filter = ["channel"]
    search_fields = ["code", "name"]


@admin.register(Contingent)
class ContingentAdmin(CatalogAdmin):
    list_display = ["code", "name", "channel", "product", "performance", "quota", "sold_count"]
    list_filter = ["channel", "product"]
    search_fields = ["code", "name"]
    readonly_fields = ["sold_count"]
