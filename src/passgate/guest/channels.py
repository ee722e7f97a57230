"""The self-service issuing channels' common ground (captive portal, PayPal, SMS request, sponsor,
hotel PMS): how a payment provider plugs into the portal's "buy access" page, and how a channel
that has just issued a ticket hands the guest back to the portal to be logged in.

A channel never decides about time, devices or quota: it fills a services.IssueRequest (its own
ticket type, its user id, an idempotency key in client_reference) and calls issue_tickets.
Connectors (PayPal, FIAS) register their providers here from their AppConfig.ready(); the guest
room never imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .models import AccessMethod, GuestTicket, Location

TICKET_SALT = "passgate.guest.portal.ticket"
# The landing link shows credentials: it is good for a day, which covers a guest coming back to it.
TICKET_LINK_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class Purchase:
    """What a guest chose on the portal's buy page: one ticket of `method`, for Variable methods
    from `first_day` to `last_day`, at `amount` (already computed by the portal from the method)."""

    location: Location
    method: AccessMethod
    amount: Decimal
    currency: str
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    email: str = ""


@dataclass(frozen=True)
class PaymentProvider:
    """A way to pay on the portal. `start` answers the buy page's POST (usually a redirect to the
    payer's approval page); the provider later issues the ticket itself and redirects the guest to
    landing_url(ticket)."""

    code: str
    label: str
    start: Callable[[HttpRequest, Purchase], HttpResponse]
    available: Callable[[Location], bool]


_providers: dict[str, PaymentProvider] = {}


def register_payment_provider(provider: PaymentProvider) -> None:
    _providers[provider.code] = provider


def payment_providers(location: Location) -> list[PaymentProvider]:
    return [p for p in _providers.values() if p.available(location)]


def payment_provider(code: str) -> PaymentProvider | None:
    return _providers.get(code)


def ticket_token(ticket: GuestTicket) -> str:
    return signing.dumps({"o": ticket.organisation_id, "s": ticket.serial}, salt=TICKET_SALT, compress=True)


def ticket_from_token(token: str, max_age: int = TICKET_LINK_MAX_AGE) -> GuestTicket | None:
    """The ticket a landing link names, or None when the link is forged or too old."""
    try:
        data = signing.loads(token, salt=TICKET_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return (GuestTicket.objects.select_related("location", "method", "organisation")
            .filter(organisation_id=data.get("o"), serial=data.get("s")).first())


def landing_url(ticket: GuestTicket) -> str:
    """The portal page that shows a freshly issued ticket and logs the guest in through the
    controller (the portal kept the controller's parameters in the guest's session)."""
    return reverse("portal-ticket", kwargs={"organisation": ticket.organisation.code,
                                            "location": ticket.location.code, "token": ticket_token(ticket)})
