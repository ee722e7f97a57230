"""Times are stored in UTC and shown in the organisation's zone. One helper for
labels, the back office, reports and e-mails, so nothing prints UTC by accident.

`org` may be an Organisation, an organisation id, or any row with an
`organisation` (its loaded organisation is used; otherwise its id)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import zoneinfo
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Organisation

# A label (`__str__`) cannot query per row without N+1: zones are cached per process,
# dropped when the organisation is saved here, and refreshed after a minute elsewhere.
CACHE_SECONDS = 60.0
_zones: dict[int, tuple[float, zoneinfo.ZoneInfo]] = {}
_lock = threading.Lock()


def _zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _zone_of_id(org_id: int) -> zoneinfo.ZoneInfo:
    now = time.monotonic()
    cached = _zones.get(org_id)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    name = Organisation.objects.filter(pk=org_id).values_list("time_zone", flat=True).first()
    zone = _zone_named(name)
    with _lock:
        _zones[org_id] = (now, zone)
    return zone


def zone_of(org: Any) -> zoneinfo.ZoneInfo:
    """The organisation's zone (the site zone when there is no organisation)."""
    if isinstance(org, Organisation):
        return _zone_named(org.time_zone)
    if isinstance(org, int):
        return _zone_of_id(org)
    state = getattr(org, "_state", None)
    loaded = state.fields_cache.get("organisation") if state is not None else None
    if isinstance(loaded, Organisation):
        return _zone_named(loaded.time_zone)
    org_id = getattr(org, "organisation_id", None)
    return _zone_of_id(org_id) if org_id is not None else _zone_named(None)


def local_time(org: Any, value: dt.datetime | None) -> dt.datetime | None:
    """`value` (aware, or naive UTC) in the organisation's zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone_of(org))


def format_local(org: Any, value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S", *,
                 named: bool = True) -> str:
    """'2026-11-25 19:00:00 (Europe/Paris)'; ISO strings (audit snapshots, reports) are accepted."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    local = local_time(org, value)
    if local is None:
        return ""
    text = local.strftime(fmt)
    return f"{text} ({local.tzinfo})" if named else text


@receiver(post_save, sender=Organisation)
@receiver(post_delete, sender=Organisation)
def _forget_zone(sender, instance, **kwargs) -> None:
    with _lock:
        _zones.pop(instance.pk, None)
