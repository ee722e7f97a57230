"""Show times in the organisation's time zone (they are stored in UTC)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from .services import organisations_of


class OrganisationTimeZoneMiddleware:
    """Activates the zone of the user's organisations when they share one. A user of
    organisations in several zones gets no guess here: the back office then shows each
    row, and each change page, in its own organisation's zone (see admin_base)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zones: list[str] = []
        if user is not None and user.is_authenticated:
            zones = list(organisations_of(user).order_by().values_list("time_zone", flat=True).distinct()[:2])
        if len(zones) == 1:
            timezone.activate(zoneinfo.ZoneInfo(zones[0]))
        else:
            timezone.deactivate()
        return self.get_response(request)
