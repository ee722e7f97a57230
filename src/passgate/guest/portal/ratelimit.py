"""Rate limits of the captive portal, counted in the database (PortalAttempt rows) so that every
gunicorn worker, and every machine on the same database, sees the same counts.

    limit = Limit("login-ip", 10, dt.timedelta(minutes=15))
    check(org, limit, address)          # raises RateLimited("try again in N minutes") when spent
    record(org, limit.scope, address)   # one more attempt counted

`check` before the work and `record` after it lets a caller count only what should count (a
login counts only when the password was wrong). Other channels (sponsor requests) may use it too.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.utils import timezone

from passgate.orgs.models import Organisation

from ..models import PortalAttempt

# Rows older than this are no use to any limit and are dropped as new ones come.
KEEP = dt.timedelta(days=2)


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    window: dt.timedelta


class RateLimited(Exception):
    """Too many attempts: `retry_after` is how long until one more is allowed."""

    def __init__(self, scope: str, retry_after: dt.timedelta) -> None:
        self.scope, self.retry_after = scope, retry_after
        super().__init__(f"{scope}: try again in {self.minutes} minute(s)")

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


def retry_after(organisation: Organisation, limit: Limit, key: str,
                now: dt.datetime | None = None) -> dt.timedelta | None:
    """How long until `key` may try again under `limit`; None when it may now."""
    now = now or timezone.now()
    times = list(PortalAttempt.objects.filter(organisation=organisation, scope=limit.scope, key=key[:100],
                                              at__gt=now - limit.window).order_by("at").values_list("at", flat=True))
    if len(times) < limit.count:
        return None
    # one more is allowed once enough of the oldest have left the window
    return times[len(times) - limit.count] + limit.window - now


def check(organisation: Organisation, limit: Limit | list[Limit], key: str, now: dt.datetime | None = None) -> None:
    """Raise RateLimited (the longest wait of the limits given) when `key` has used up a limit."""
    waits = [(lim.scope, w) for lim in (limit if isinstance(limit, list) else [limit])
             if (w := retry_after(organisation, lim, key, now)) is not None]
    if waits:
        scope, wait = max(waits, key=lambda item: item[1])
        raise RateLimited(scope, wait)


def record(organisation: Organisation, scope: str, key: str, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    PortalAttempt.objects.filter(organisation=organisation, scope=scope, key=key[:100], at__lt=now - KEEP).delete()
    PortalAttempt.objects.create(organisation=organisation, scope=scope, key=key[:100], at=now)
