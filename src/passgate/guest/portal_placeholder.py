"""PLACEHOLDER for the sponsor branch only — the portal helper's `passgate.guest.portal` replaces
it at merge (drop this module and its line in passgate/urls.py). A bare `portal-ticket` landing
page so channels.landing_url() resolves and the sponsor's waiting page has somewhere to go."""

from django.http import Http404
from django.shortcuts import render
from django.urls import path

from . import channels


def ticket(request, organisation: str, location: str, token: str):
    found = channels.ticket_from_token(token)
    if found is None or found.organisation.code != organisation or found.location.code != location:
        raise Http404("this link is not valid")
    return render(request, "guest/portal/placeholder_ticket.html", {"location": found.location, "ticket": found})


urlpatterns = [path("ticket/<str:token>/", ticket, name="portal-ticket")]
