"""Receivers of the jobs room."""

from __future__ import annotations


def ensure_builtins_after_migrate(sender, using="default", **kwargs) -> None:
    """After `migrate`: every organisation has its built-in (maintenance) schedules."""
    from django.db import connections

    from .services import ensure_all_builtin_schedules

    if "jobs_schedule" not in connections[using].introspection.table_names():
        return
    ensure_all_builtin_schedules()
