"""Test-only stand-in for the captive portal's pages PayPal needs (`portal-buy`, `portal-ticket`),
used while the portal (another #12 part) is not on this branch. When passgate.urls has them, this
urlconf adds nothing and the tests run against the real portal."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt

from passgate.guest import channels
from passgate.guest.models import AccessMethod, Format, Location
from passgate.urls import urlpatterns as main_patterns


@csrf_exempt
def buy(request, organisation: str, location: str):
    place = get_object_or_404(Location, organisation__code=organisation, code=location)
    if request.method == "POST":
        method = get_object_or_404(AccessMethod, location=place, code=request.POST["method"])
        first = last = None
        amount = method.price
        if method.format == Format.VARIABLE:
            first = dt.date.fromisoformat(request.POST["first_day"])
            last = dt.date.fromisoformat(request.POST["last_day"])
            amount = method.price * ((last - first).days + 1)
        purchase = channels.Purchase(location=place, method=method, amount=amount, currency=method.currency,
                                     first_day=first, last_day=last, email=request.POST.get("email", ""))
        return channels.payment_provider(request.POST.get("provider", "PAYPAL")).start(request, purchase)
    options = "".join(f"<option value='{escape(m.code)}'>{escape(m.name)} {m.price}</option>"
                      for m in place.methods.filter(active=True, price__gt=0))
    return HttpResponse(f"<form method='post'><select name='method'>{options}</select>"
                        "<input name='first_day' type='date'><input name='last_day' type='date'>"
                        "<input name='email'><button name='provider' value='PAYPAL'>PayPal</button></form>")


def ticket(request, organisation: str, location: str, token: str):
    found = channels.ticket_from_token(token)
    if found is None:
        return HttpResponse("unknown ticket", status=404)
    return HttpResponse(f"<p>Username <b id='username'>{escape(found.username)}</b></p>"
                        f"<p>Password <b id='password'>{escape(found.password)}</b></p>")


def _has_portal() -> bool:
    try:
        reverse("portal-ticket", urlconf="passgate.urls", kwargs={"organisation": "o", "location": "l", "token": "t"})
        return True
    except NoReverseMatch:
        return False


urlpatterns = list(main_patterns)
if not _has_portal():
    urlpatterns += [
        path("portal/<str:organisation>/<str:location>/buy/", buy, name="portal-buy"),
        path("portal/<str:organisation>/<str:location>/<str:token>/", ticket, name="portal-ticket"),
    ]
