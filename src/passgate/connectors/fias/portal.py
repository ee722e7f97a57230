"""Charge to the room: the portal's payment provider "ROOM". The buy page hands the Purchase to
start(), which asks the guest's room number and last name; a posting (PS) is stored for the link
process to send, and the guest waits on a page that turns into the landing page once PA answers OK
(the ticket is issued then, never before) or explains a refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from passgate.errors import PassgateError
from passgate.guest.channels import PaymentProvider, Purchase, landing_url, register_payment_provider
from passgate.guest.models import AccessMethod, Location

from . import services
from .models import PmsLink, PostingStatus

SESSION_KEY = "fias_purchase"
POSTING_SALT = "passgate.fias.posting"


def available(location: Location) -> bool:
    return PmsLink.objects.filter(location=location, enabled=True, allow_postings=True).exists()


def _form(request: HttpRequest, location: Location, purchase: dict, **extra) -> HttpResponse:
    action = reverse("fias-room-charge", kwargs={"organisation": location.organisation.code,
                                                 "location": location.code})
    return render(request, "fias/room_charge.html", {"location": location, "action": action,
                                                     "amount": purchase["amount"], "currency": purchase["currency"],
                                                     **extra}, status=400 if extra.get("error") else 200)


def start(request: HttpRequest, purchase: Purchase) -> HttpResponse:
    kept = {"location": purchase.location.pk, "method": purchase.method.pk, "amount": str(purchase.amount),
            "currency": purchase.currency, "email": purchase.email,
            "first_day": purchase.first_day.isoformat() if purchase.first_day else None,
            "last_day": purchase.last_day.isoformat() if purchase.last_day else None}
    request.session[SESSION_KEY] = kept
    return _form(request, purchase.location, kept)


def _location(organisation: str, location: str) -> Location:
    return get_object_or_404(Location.objects.select_related("organisation"), organisation__code=organisation,
                             code=location)


def room_charge(request: HttpRequest, organisation: str, location: str) -> HttpResponse:
    loc = _location(organisation, location)
    kept = request.session.get(SESSION_KEY)
    if request.method != "POST" or not kept or kept.get("location") != loc.pk:
        return HttpResponseRedirect(reverse("portal-buy", kwargs={"organisation": organisation, "location": location}))
    room, last_name = request.POST.get("room_number", ""), request.POST.get("last_name", "")
    method = get_object_or_404(AccessMethod, pk=kept["method"], location=loc)
    day = dt.date.fromisoformat
    try:
        posting = services.request_posting(services.Charge(
            location=loc, method=method, amount=Decimal(kept["amount"]), currency=kept["currency"],
            room_number=room, last_name=last_name, email=kept.get("email") or "",
            first_day=day(kept["first_day"]) if kept.get("first_day") else None,
            last_day=day(kept["last_day"]) if kept.get("last_day") else None))
    except PassgateError as exc:
        return _form(request, loc, kept, error=exc.message, room_number=room, last_name=last_name)
    request.session.pop(SESSION_KEY, None)
    token = signing.dumps({"o": loc.organisation_id, "p": posting.pk}, salt=POSTING_SALT)
    return HttpResponseRedirect(reverse("fias-posting", kwargs={"organisation": organisation, "location": location,
                                                                "token": token}))


def posting_wait(request: HttpRequest, organisation: str, location: str, token: str) -> HttpResponse:
    loc = _location(organisation, location)
    try:
        data = signing.loads(token, salt=POSTING_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        raise Http404("unknown posting") from None
    posting = services.posting_of(data.get("o"), data.get("p"))
    if posting is None or posting.link.location_id != loc.pk:
        raise Http404("unknown posting")
    if posting.status == PostingStatus.OK and posting.ticket is not None:
        return HttpResponseRedirect(landing_url(posting.ticket))
    return render(request, "fias/posting_wait.html", {"location": loc, "posting": posting,
                                                      "refused": posting.status == PostingStatus.REFUSED})


def register() -> None:
    register_payment_provider(PaymentProvider(code="ROOM", label="Charge to my room", start=start,
                                              available=available))
