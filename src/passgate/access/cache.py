"""A small per-process cache of the slow-moving rows a scan decision reads
(organisation, door, sector, product, performance, tariff, category, a
sector's rules), so the hot path reads only the device and the ticket.

Entries live ACCESS_CACHE_SECONDS (default 5 s; off under the test runner) and are dropped at once when
the row is saved or deleted in this process (post_save / post_delete), so a
change made through the back office of another process is seen within a few
seconds. Ticket status, control counts and device status are never cached.

Other processes: every save/delete of a cached row bumps the organisation's
`AccessSettings.config_version` in the same transaction; the device lookup of each
scan reads it in the same query, and a process that sees a new value drops its
cache. So a change is seen by every process at its next scan; the TTL is a safety net."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

_store: dict[tuple[str, Any], tuple[float, Any]] = {}


def ttl() -> float:
    """ACCESS_CACHE_SECONDS if set; otherwise 5 s, or 0 (no cache) under Django's test
    environment, where tests change rows with queryset.update() and roll back (ids come back)."""
    value = getattr(settings, "ACCESS_CACHE_SECONDS", None)
    if value is None:
        from django.test.utils import _TestState

        return 0.0 if hasattr(_TestState, "saved_data") else 5.0
    return float(value)


def clear() -> None:
    _store.clear()


def _get(key, loader):
    if ttl() <= 0:
        return loader()
    now = time.monotonic()
    hit = _store.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = loader()
    _store[key] = (now + ttl(), value)
    return value


def memo(key: tuple, loader):
    """A value derived from slow-moving rows (e.g. a connector's mapped product), kept like them:
    the TTL, and dropped with the whole store when another process changes the organisation."""
    return _get(key, loader)


def row(model, pk):
    if pk is None:
        return None
    return _get((model._meta.label_lower, pk), lambda: model._default_manager.get(pk=pk))


def door(pk):
    """A door with its sector attached."""
    from .models import Door, Sector

    d = row(Door, pk)
    if not Door.sector.is_cached(d):
        d.sector = row(Sector, d.sector_id)
    return d


def rules(sector_id: int) -> list[tuple]:
    from .models import AccessRule

    return _get(("rules", sector_id), lambda: list(
        AccessRule.objects.filter(sector_id=sector_id).values_list(
            "product_id", "performance_id", "tariff_id", "category_id")))


_seen_versions: dict[int, int] = {}


def check_version(organisation_id: int, version: int) -> None:
    """Called with the organisation's config_version read alongside the device (no extra query):
    a change made by another process bumps it, and this process drops what it cached."""
    seen = _seen_versions.get(organisation_id)
    if seen is not None and seen != version:
        _store.clear()
    _seen_versions[organisation_id] = version


def bump_version(organisation_id: int, create: bool = True) -> None:
    """In the writer's transaction (its own row: AccessSettings, not the change counter)."""
    from django.db.models import F

    from .models import AccessSettings

    updated = AccessSettings.objects.filter(organisation_id=organisation_id).update(
        config_version=F("config_version") + 1)
    if not updated and create:
        AccessSettings.objects.bulk_create([AccessSettings(organisation_id=organisation_id, config_version=1)],
                                           ignore_conflicts=True)


def _invalidate(sender, instance, **kwargs) -> None:
    label = sender._meta.label_lower
    deleting = kwargs.get("signal") is post_delete
    if label == "orgs.organisation":
        if not deleting and not kwargs.get("created"):
            bump_version(instance.pk)
    elif getattr(instance, "organisation_id", None) is not None:
        # never create a row while deleting (the organisation itself may be on its way out)
        bump_version(instance.organisation_id, create=not deleting)
    _store.pop((label, instance.pk), None)
    if label == "access.accessrule":
        _store.pop(("rules", instance.sector_id), None)
    if label == "access.sector":
        # doors carry their sector object: drop them too
        for key in [k for k in _store if k[0] == "access.door"]:
            _store.pop(key, None)


CACHED_MODELS = ("orgs.Organisation", "access.Door", "access.Sector", "access.AccessRule", "catalog.Product",
                 "catalog.Performance", "catalog.Tariff", "catalog.Category", "jobs.Interface")


def connect() -> None:
    from django.apps import apps

    for label in CACHED_MODELS:
        model = apps.get_model(label)
        post_save.connect(_invalidate, sender=model, dispatch_uid=f"access.cache.save.{label}")
        post_delete.connect(_invalidate, sender=model, dispatch_uid=f"access.cache.delete.{label}")
