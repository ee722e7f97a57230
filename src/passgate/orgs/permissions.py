"""What each role may do. The API, the admin and the CLI ask these questions;
none of them decides on its own."""

from __future__ import annotations

from enum import StrEnum

from .models import Role


class Permission(StrEnum):
    VIEW = "view"
    SELL = "sell"  # sell, cancel, print, reprint, invalidate
    MANAGE_CONTACTS = "manage_contacts"
    MANAGE_CATALOG = "manage_catalog"
    CONTROL_ACCESS = "control_access"  # scan, import controls
    MANAGE_ACCESS = "manage_access"  # sectors, doors, devices, rules
    MANAGE_INTERFACES = "manage_interfaces"  # partner interfaces, schedules, runs
    MANAGE_ORGANISATION = "manage_organisation"  # members, tokens


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.BOX_OFFICE: frozenset({Permission.VIEW, Permission.SELL, Permission.MANAGE_CONTACTS}),
    Role.ACCESS_CONTROL: frozenset({Permission.VIEW, Permission.CONTROL_ACCESS}),
    Role.READ_ONLY: frozenset({Permission.VIEW}),
}


def role_allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
