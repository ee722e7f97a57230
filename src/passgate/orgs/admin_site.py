"""The back office's admin site: the rooms a box office works in first (sales, access control),
and Django's plumbing (groups, background task results) kept from everyone but superusers."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig

FIRST_APPS = ("sales", "access")
SUPERUSER_ONLY = {("auth", "Group"), ("django_tasks_database", "DBTaskResult")}


class PassgateAdminSite(AdminSite):
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if not request.user.is_superuser:
            for app in apps:
                app["models"] = [m for m in app["models"] if (app["app_label"], m["object_name"]) not in SUPERUSER_ONLY]
            apps = [app for app in apps if app["models"]]
        rank = {label: i for i, label in enumerate(FIRST_APPS)}
        return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))  # stable: the rest stay A–Z


class PassgateAdminConfig(AdminConfig):
    """django.contrib.admin with passgate's site (settings.INSTALLED_APPS names this)."""

    default_site = "passgate.orgs.admin_site.PassgateAdminSite"
