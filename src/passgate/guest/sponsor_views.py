"""The sponsored-access pages: the guest's request form, the waiting page (and its JSON status,
polled by the page), and the sponsor's decision page. They only translate: the rules are in
guest.sponsor."""

from __future__ import annotations

import logging
import smtplib

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from passgate.errors import PassgateError

from . import sponsor
from .models import Location, SponsorStatus

logger = logging.getLogger("passgate.guest.sponsor")


def _location(organisation: str, location: str) -> Location:
    return get_object_or_404(Location.objects.select_related("organisation", "sponsor_method"),
                             organisation__code=organisation, code=location)


@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest, organisation: str, location: str) -> HttpResponse:
    place = _location(organisation, location)
    if not sponsor.offers_sponsoring(place):
        raise Http404("no sponsored access at this location")
    values = {"guest_email": "", "guest_name": "", "sponsor_email": ""}
    error = None
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "")[:300] for k in values}
        try:
            req = sponsor.request_access(place, sponsor.Ask(**values,
                                                            client_address=request.META.get("REMOTE_ADDR")))
            return redirect(sponsor.wait_url(req))
        except PassgateError as exc:
            error, status = exc, exc.http_status
        except (smtplib.SMTPException, OSError):
            logger.exception("the sponsor's e-mail could not be sent")
            error = PassgateError(_("The e-mail to your sponsor could not be sent. Please try again in a moment."),
                                  field="sponsor_email")
            status = 503
    return render(request, "guest/portal/sponsor_ask.html",
                  {"location": place, "values": values, "error": error}, status=status)


def _request(place: Location, token: str):
    req = sponsor.request_from_wait_token(token, place)
    if req is None:
        raise Http404("this waiting page's link is not valid")
    return req


def wait(request: HttpRequest, organisation: str, location: str, token: str) -> HttpResponse:
    place = _location(organisation, location)
    req = _request(place, token)
    state = sponsor.status(req)
    if state["landing_url"]:
        return redirect(state["landing_url"])
    return render(request, "guest/portal/sponsor_wait.html", {
        "location": place, "req": req, "state": state, "pending": req.status == SponsorStatus.PENDING,
        "status_url": request.path + "status"})


def wait_status(request: HttpRequest, organisation: str, location: str, token: str) -> JsonResponse:
    place = _location(organisation, location)
    req = sponsor.request_from_wait_token(token, place)
    if req is None:
        return JsonResponse({"status": "UNKNOWN", "message": _("This link is not valid.")}, status=404)
    return JsonResponse(sponsor.status(req))


# Opening the link only shows the question; the decision is a POST, so a mail scanner that
# fetches every link in a message cannot approve or deny on the sponsor's behalf.
@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest, organisation: str, location: str, token: str) -> HttpResponse:
    place = _location(organisation, location)
    if request.method == "POST":
        try:
            decision = sponsor.decide(token, place)
        except PassgateError as exc:  # e.g. the sponsor method was switched off meanwhile: nothing decided
            return render(request, "guest/portal/sponsor_decide.html",
                          {"location": place, "req": None, "action": "", "outcome": "ERROR", "error": exc},
                          status=409)
        return _outcome(request, place, decision.outcome, decision.action, decision.request)
    req, action = sponsor.read_decision(token, place)
    if req is None:
        return _outcome(request, place, "EXPIRED" if action == "expired" else "INVALID", "", None)
    if req.status != SponsorStatus.PENDING:
        return _outcome(request, place, "ALREADY", action, req)
    if timezone.now() >= req.expires_at:
        return _outcome(request, place, "EXPIRED", action, req)
    return render(request, "guest/portal/sponsor_decide.html",
                  {"location": place, "req": req, "action": action, "outcome": None})


STATUS_OF_OUTCOME = {"APPROVED": 200, "DENIED": 200, "ALREADY": 409, "EXPIRED": 410, "INVALID": 400}


def _outcome(request, place, outcome: str, action: str, req) -> HttpResponse:
    return render(request, "guest/portal/sponsor_decide.html",
                  {"location": place, "req": req, "action": action, "outcome": outcome},
                  status=STATUS_OF_OUTCOME[outcome])
