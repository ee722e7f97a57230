"""Show times in the organisation's time zone (they are stored in UTC)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class OrganisationTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = None
        if user is not None and user.is_authenticated:
            membership = user.memberships.select_related("organisation").order_by("pk").first()
            if membership is not None:
                zone = membership.organisation.time_zone
        if zone:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        return self.get_response(request)
