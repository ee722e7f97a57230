"""The portal's URL names as the fias tests need them (the portal itself comes from another branch):
a buy page that hands a fixed Purchase to the ROOM provider, and a landing page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpResponse
from django.urls import include, path

from passgate.guest.channels import Purchase, payment_provider
from passgate.guest.models import AccessMethod, Location


def buy(request, organisation, location):
    loc = Location.objects.get(organisation__code=organisation, code=location)
    method = AccessMethod.objects.get(location=loc, code="PREMIUM")
    today = dt.date.today()
    purchase = Purchase(location=loc, method=method, amount=Decimal("9.00"), currency="EUR", first_day=today,
                        last_day=today + dt.timedelta(days=1))
    return payment_provider("ROOM").start(request, purchase)


def ticket(request, organisation, location, token):
    return HttpResponse(f"landing {token}")


urlpatterns = [
    path("portal/<str:organisation>/<str:location>/buy/", buy, name="portal-buy"),
    path("portal/<str:organisation>/<str:location>/t/<str:token>/", ticket, name="portal-ticket"),
    path("portal/", include("passgate.connectors.fias.urls")),
]
