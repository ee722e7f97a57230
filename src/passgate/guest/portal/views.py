"""The captive portal's pages. Thin: the rules are in portal.services, portal.ratelimit and
guest.sms_request; these views read forms, call them and pick the template."""

from __future__ import annotations

import secrets
from functools import wraps

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from passgate.errors import Conflict, InvalidInput, PassgateError

from .. import channels, sms_request
from ..delivery import validity_text
from ..services import hotel_ticket
from . import ratelimit, services

LOGIN_LIMIT = ratelimit.Limit("login-address", services.LOGIN_LIMIT_COUNT, services.LOGIN_LIMIT_WINDOW)
HOTEL_LIMIT = ratelimit.Limit("hotel-address", services.HOTEL_LIMIT_COUNT, services.HOTEL_LIMIT_WINDOW)


def portal_page(view):
    """Resolve the location, keep the controller's parameters, pick the language, and render the
    page in it."""

    @never_cache
    @wraps(view)
    def wrapper(request, organisation, location, **kwargs):
        place = services.portal_location(organisation, location)
        uam = services.controller_params(request.GET)
        if uam:
            request.session[services.SESSION_UAM] = uam
        chosen = request.GET.get("lang", "")
        language = services.pick_language(place, chosen=chosen or request.session.get(services.SESSION_LANGUAGE, ""),
                                          accept_language=request.headers.get("Accept-Language", ""))
        if chosen and chosen == language:
            request.session[services.SESSION_LANGUAGE] = language
        with translation.override(language):
            response = view(request, place, **kwargs)
        response.headers["Content-Language"] = language
        return response

    return wrapper


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _page(request, location, template, status=200, **context):
    language = translation.get_language()
    names = services.portal_languages()
    context.update(
        location=location, language=language,
        languages=[(code, names[code], f"{request.path}?lang={code}") for code in location.language_list()
                   if code in names],
        kwargs={"organisation": location.organisation.code, "location": location.code})
    return render(request, f"guest/portal/{template}", context, status=status)


def _urls(location) -> dict[str, str]:
    kwargs = {"organisation": location.organisation.code, "location": location.code}
    return {name: reverse(f"portal-{name}", kwargs=kwargs) for name in ("home", "login", "buy", "sms", "hotel")}


def sponsor_url(location) -> str:
    """The sponsor page, when the location offers sponsored access."""
    if not (location.sponsor_method_id and location.sponsors_allowed.strip()):
        return ""
    try:
        return reverse("portal-sponsor", kwargs={"organisation": location.organisation.code,
                                                 "location": location.code})
    except NoReverseMatch:
        return ""


def _too_many(exc: ratelimit.RateLimited) -> str:
    return translation.ngettext("Too many attempts. Try again in %(n)d minute.",
                                "Too many attempts. Try again in %(n)d minutes.", exc.minutes) % {"n": exc.minutes}


def _hand_off(request, location, ticket):
    """After a successful login: to the controller's login URL, or to the page that shows the
    credentials when the portal was not reached through a controller."""
    found = services.handoff(location, request.session.get(services.SESSION_UAM, {}), ticket.username,
                             ticket.password)
    if found is None:
        return HttpResponseRedirect(channels.landing_url(ticket))
    if found.is_post:  # the controller takes the login as a form: the browser posts it at once
        return _page(request, location, "handoff.html", handoff=found, urls=_urls(location))
    return HttpResponseRedirect(found.url)


@portal_page
def home(request, location):
    return _page(request, location, "home.html", urls=_urls(location), sponsor_url=sponsor_url(location),
                 can_buy=bool(services.priced_methods(location)),
                 can_sms=bool(location.sms_method_id and location.deliver_sms),
                 can_hotel=services.has_hotel_stays(location))


@portal_page
def login(request, location):
    username = request.POST.get("username", request.GET.get("username", ""))[:64]
    password = request.POST.get("password", request.GET.get("password", ""))[:64]
    handed_off, error, status = _limited_login(
        request, location, LOGIN_LIMIT, lambda: services.check_credentials(location, username, password),
        _("Wrong username or password, or this access has ended."))
    if handed_off:
        return handed_off
    return _page(request, location, "login.html", status=status, error=error, username=username,
                 password=password if not error else "", urls=_urls(location))


def _limited_login(request, location, limit, find, refusal: str):
    """A POSTed login (credentials, or room and name): the guest's ticket handed off to the
    controller, or the page's error — a failure counts towards the client's rate limit.
    Returns (response or None, error, status)."""
    if request.method != "POST":
        return None, "", 200
    org, client = location.organisation, _client(request)
    try:
        ratelimit.check(org, limit, client)
    except ratelimit.RateLimited as exc:
        return None, _too_many(exc), 429
    ticket = find()
    if ticket is not None:
        return _hand_off(request, location, ticket), "", 200
    ratelimit.record(org, limit.scope, client)
    return None, refusal, 200


@portal_page
def hotel(request, location):
    room = request.POST.get("room", "")[:20]
    last_name = request.POST.get("last_name", "")[:100]
    handed_off, error, status = _limited_login(
        request, location, HOTEL_LIMIT, lambda: hotel_ticket(location, room, last_name),
        _("No stay was found for this room and name. Check the spelling, or ask the front desk."))
    if handed_off:
        return handed_off
    return _page(request, location, "hotel.html", status=status, error=error, room=room, last_name=last_name,
                 urls=_urls(location))


@portal_page
def sms(request, location):
    if not (location.sms_method_id and location.deliver_sms):
        return _page(request, location, "message.html", status=404, heading=_("Codes by SMS"),
                     message=_("Codes by SMS are not offered at this location."), urls=_urls(location))
    error, status, phone = "", 200, request.POST.get("phone", "")[:40]
    if request.method == "POST":
        try:
            done = sms_request.request_code(location, phone, client_address=_client(request),
                                            nonce=request.POST.get("nonce", ""))
        except ratelimit.RateLimited as exc:
            error, status = _too_many(exc), 429
        except InvalidInput as exc:
            error, status = str(exc.message), 400
        except Conflict as exc:
            error, status = str(exc.message), 409
        except PassgateError:  # the SMS gateway failed: nothing was issued (one transaction)
            error, status = _("The text message could not be sent. Please try again in a moment."), 503
        else:
            return _page(request, location, "sms_sent.html", number=done.number, urls=_urls(location))
    return _page(request, location, "sms.html", status=status, error=error, phone=phone,
                 nonce=secrets.token_urlsafe(16), urls=_urls(location))


@portal_page
def buy(request, location):
    methods = services.priced_methods(location)
    providers = channels.payment_providers(location)
    errors: dict[str, str] = {}
    form = {name: request.POST.get(name, "")[:254] for name in ("method", "first_day", "last_day", "email")}
    if request.method == "POST" and providers:
        provider = channels.payment_provider(request.POST.get("provider", ""))
        if provider is None or provider not in providers:
            errors["provider"] = _("Choose a way to pay.")
        try:
            purchase = services.build_purchase(location, method_code=form["method"], first_day=form["first_day"],
                                               last_day=form["last_day"], email=form["email"])
        except InvalidInput as exc:
            errors[exc.field or "method"] = str(exc.message)
        else:
            if not errors:
                return provider.start(request, purchase)
    return _page(request, location, "buy.html", status=400 if errors else 200, methods=methods,
                 providers=providers, errors=errors, form=form, urls=_urls(location))


@portal_page
def ticket(request, location, token):
    found = channels.ticket_from_token(token)
    if found is None or found.location_id != location.pk:
        return _page(request, location, "message.html", status=404, heading=_("Link expired"),
                     message=_("This link is no longer valid. Use the credentials you received, or ask again."),
                     urls=_urls(location))
    uam = request.session.get(services.SESSION_UAM, {})
    return _page(request, location, "ticket.html", ticket=found, validity=validity_text(found, location),
                 handoff=services.handoff(location, uam, found.username, found.password), handoff_delay=3000,
                 continue_url=services.continue_url(uam), urls=_urls(location))
