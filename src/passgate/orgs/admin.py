from django.contrib import admin, messages
from django.utils.html import format_html

from .admin_base import OrgScopedAdmin, ReadOnlyAdmin, actor_for, member_roles
from .models import ApiToken, AuditEntry, Membership, Organisation
from .permissions import Permission
from .services import issue_api_token, revoke_api_token


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone", "currency", "created_at"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(pk__in=list(member_roles(request)))

    def has_module_permission(self, request):
        return bool(member_roles(request))

    def has_view_permission(self, request, obj=None):
        return bool(member_roles(request))


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ORGANISATION
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]


@admin.register(ApiToken)
class ApiTokenAdmin(OrgScopedAdmin):
    """Tokens are shown once, when created; afterwards only their prefix."""

    write_permission = Permission.MANAGE_ORGANISATION
    list_display = ["name", "organisation", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = ["organisation", "name", "role"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["organisation", "name", "role", "prefix", "created_at", "last_used_at", "revoked_at"] if obj else []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else self.fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, plaintext = issue_api_token(actor_for(request, obj.organisation), obj.name, obj.role)
        obj.pk = token.pk
        messages.warning(request, format_html(
            "Token created. Copy it now, it will not be shown again: <code id='new-token'>{}</code>", plaintext))

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        self.run_service(request, queryset, "Revoke", revoke_api_token)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "organisation", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor"]
    date_hierarchy = "at"
    readonly_fields = ["at", "organisation", "actor", "user", "action", "object_type", "object_id",
                       "object_repr", "before", "after"]
