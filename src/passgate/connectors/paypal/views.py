"""PayPal's pages and webhook endpoint: they translate HTTP to services calls and back. Every page a
guest sees extends the portal's base template (its look, its languages)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from passgate.errors import PassgateError
from passgate.guest.channels import Purchase, landing_url
from passgate.guest.models import Location
from passgate.jobs.partner_http import PartnerError

from . import services
from .client import PaypalRefused
from .models import PaymentStatus, PaypalAccount

logger = logging.getLogger("passgate.paypal")


def _back_url(location: Location) -> str:
    """The portal's buy page (or home) to try again; empty while the portal is not installed."""
    kwargs = {"organisation": location.organisation.code, "location": location.code}
    for name in ("portal-buy", "portal-home"):
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return ""


def page(request: HttpRequest, location: Location, *, title: str, message: str, reference: str = "",
         status: int = 200) -> HttpResponse:
    return TemplateResponse(request, "paypal/outcome.html",
                            {"location": location, "title": title, "message": message, "reference": reference,
                             "back_url": _back_url(location)}, status=status)


def unavailable(request: HttpRequest, location: Location, reference: str = "") -> HttpResponse:
    return page(request, location, title=_("PayPal is not answering"), reference=reference, status=503,
                message=_("PayPal cannot be reached right now. Nothing was charged and no ticket was issued. "
                          "Please try again in a few minutes."))


def start(request: HttpRequest, purchase: Purchase) -> HttpResponse:
    """The portal's buy page chose PayPal: create the order, send the guest to approve it."""

    def urls(reference: str) -> tuple[str, str]:
        return (request.build_absolute_uri(reverse("paypal-return", kwargs={"reference": reference})),
                request.build_absolute_uri(reverse("paypal-cancel", kwargs={"reference": reference})))

    try:
        payment, approve_url = services.begin(purchase, urls)
    except PartnerError as exc:
        logger.warning("PayPal order for %s not created: %s", purchase.location.code, exc)
        return unavailable(request, purchase.location)
    except PassgateError as exc:
        return page(request, purchase.location, title=_("This purchase cannot be made"), message=str(exc),
                    status=400)
    return HttpResponseRedirect(approve_url)


@require_GET
def return_view(request: HttpRequest, reference: str) -> HttpResponse:
    """PayPal sends the payer back here (?token=<order id>&PayerID=…) after approval."""
    try:
        payment = services.find_payment(reference)
    except PassgateError as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain; charset=utf-8")
    location = payment.location
    try:
        outcome = services.complete(reference, request.GET.get("token", ""))
    except PaypalRefused as exc:
        return page(request, location, reference=reference, status=402, title=_("PayPal refused the payment"),
                    message=_("PayPal did not accept the payment (%(issue)s). Nothing was charged and no ticket "
                              "was issued.") % {"issue": exc.issue or exc.status})
    except PartnerError as exc:
        logger.warning("PayPal capture for %s failed: %s", reference, exc)
        return unavailable(request, location, reference)
    except PassgateError as exc:
        return page(request, location, title=_("This payment link is not valid"), message=str(exc),
                    reference=reference, status=400)
    if outcome.ticket is not None and outcome.ticket.status not in ("CANCELLED", "EXPIRED"):
        return HttpResponseRedirect(landing_url(outcome.ticket))
    status = outcome.status
    if status == PaymentStatus.PENDING:
        return page(request, location, reference=reference, status=202, title=_("Payment pending"),
                    message=_("PayPal has not confirmed the payment yet. Your ticket will be sent by e-mail "
                              "to your PayPal address as soon as it does."))
    if status in (PaymentStatus.DECLINED, PaymentStatus.DENIED):
        return page(request, location, reference=reference, status=402, title=_("Payment declined"),
                    message=_("PayPal declined the payment. Nothing was charged and no ticket was issued. "
                              "You can try again with another funding source."))
    if status in (PaymentStatus.REFUNDED, PaymentStatus.REVERSED):
        return page(request, location, reference=reference, status=409, title=_("Payment cancelled"),
                    message=_("This payment was reversed or refunded: it gives no access."))
    return page(request, location, reference=reference, status=500, title=_("Ticket not issued"),
                message=_("The payment was received but the ticket could not be issued. Please show this "
                          "reference to the staff, who will issue it or refund you."))


@require_GET
def cancel_view(request: HttpRequest, reference: str) -> HttpResponse:
    try:
        payment = services.abandon(reference)
    except PassgateError as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain; charset=utf-8")
    return page(request, payment.location, reference=reference, title=_("Payment abandoned"),
                message=_("You left PayPal without paying. Nothing was charged and no ticket was issued."))


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, account: str) -> HttpResponse:
    """`account`: the account's id, or an organisation's code for its account serving all locations."""
    accounts = PaypalAccount.objects.select_related("organisation").filter(active=True)
    found = get_object_or_404(accounts, pk=int(account)) if account.isdigit() else get_object_or_404(
        accounts, organisation__code=account, location__isnull=True)
    account_id = found.pk
    try:
        answer = services.receive_webhook(found, dict(request.headers), request.body)
    except PartnerError as exc:  # PayPal redelivers a webhook that was not acknowledged
        logger.warning("PayPal webhook for account %s not verified (PayPal unreachable): %s", account_id, exc)
        return JsonResponse({"error": "verification unavailable, send again later"}, status=503)
    return JsonResponse({"result": answer.message}, status=answer.status)
