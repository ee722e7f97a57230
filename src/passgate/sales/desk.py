"""The desk: selling in the back office, and the buttons of the order and ticket pages.

Every write goes through the same services as the API (sales.services.sell_once,
create_contact, print/reprint/cancel/invalidate, sales.delivery): this module only reads
the form, builds the request, and shows the service's refusal (field, expected, found)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from passgate.catalog.models import Category, Performance, PointOfSale, Product, Tariff
from passgate.errors import InvalidInput, PassgateError
from passgate.orgs.admin_base import actor_for, error_sentence, member_roles
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission, role_allows
from passgate.orgs.timezones import format_local

from . import delivery, services
from .models import Contact, Order, PaymentMode, Ticket

# Performances still worth selling at the desk: those that have not ended more than this long ago.
RECENT = dt.timedelta(hours=6)
DESK_PAYMENT_MODES = [m for m in PaymentMode if m in services.ORDINARY_PAYMENT_MODES or m == "PENDING_ACCOUNT"]


def selling_organisations(request) -> list[Organisation]:
    """The organisations where the user's role may sell."""
    ids = [pk for pk, role in member_roles(request).items() if role_allows(role, Permission.SELL)]
    return list(Organisation.objects.filter(pk__in=ids).order_by("name"))


def _organisation(request) -> Organisation:
    orgs = selling_organisations(request)
    if not orgs:
        raise Http404("no organisation where you may sell")
    wanted = request.POST.get("org") or request.GET.get("org")
    return next((o for o in orgs if str(o.pk) == wanted), orgs[0])


@dataclass
class Item:
    """What is sold: a performance of a product, or a product without performances."""

    product: Product
    performance: Performance | None

    @property
    def key(self) -> str:
        return f"perf:{self.performance.pk}" if self.performance else f"prod:{self.product.pk}"

    def label(self, org) -> str:
        if self.performance is None:
            return f"{self.product.name} ({self.product.get_family_display()})"
        perf = self.performance
        when = format_local(org, perf.starts_at, "%a %d %b %Y %H:%M", named=False)
        return f"{self.product.name} — {perf.name or perf.code} — {when}"


def items_for_sale(org: Organisation) -> list[Item]:
    since = timezone.now() - RECENT
    perfs = (Performance.objects.filter(organisation=org, ends_at__gte=since)
             .select_related("product").order_by("starts_at")[:300])
    items = [Item(p.product, p) for p in perfs]
    items += [Item(p, None) for p in Product.objects.filter(organisation=org).order_by("name")
              if not p.has_performances]
    return items


def find_item(org: Organisation, key: str) -> Item | None:
    kind, _, pk = (key or "").partition(":")
    if not pk.isdigit():
        return None
    if kind == "perf":
        perf = Performance.objects.filter(organisation=org, pk=pk).select_related("product").first()
        return Item(perf.product, perf) if perf else None
    if kind == "prod":
        product = Product.objects.filter(organisation=org, pk=pk).first()
        return Item(product, None) if product and not product.has_performances else None
    return None


def _int(value: str, field: str) -> int:
    try:
        number = int(value or 0)
    except ValueError:
        raise InvalidInput("not a whole number", field=field, expected="0, 1, 2…", found=value) from None
    if number < 0:
        raise InvalidInput("a quantity cannot be negative", field=field, expected="0 or more", found=number)
    return number


def _buyer(actor, post) -> Contact | None:
    number = post.get("buyer_number", "").strip()
    if number:
        buyer = Contact.objects.filter(organisation=actor.organisation, number=number).first()
        if buyer is None:
            raise InvalidInput("no contact with this number", field="buyer_number",
                               expected="the number of an existing contact, or the new buyer's name below",
                               found=number)
        return buyer
    first, last = post.get("buyer_first_name", "").strip(), post.get("buyer_last_name", "").strip()
    email = post.get("buyer_email", "").strip()
    if not (first or last or email):
        return None  # an anonymous sale
    return services.create_contact(actor, first_name=first, last_name=last, email=email)


def _holder(actor, post, i: int, buyer: Contact | None) -> Contact | None:
    first = post.get(f"holder_first_name_{i}", "").strip()
    last = post.get(f"holder_last_name_{i}", "").strip()
    if not (first or last):
        return None  # the buyer is the holder
    if buyer and (first, last) == (buyer.first_name, buyer.last_name):
        return buyer
    return services.create_contact(actor, first_name=first, last_name=last)


def sale_from_post(actor, item: Item, post, described: list[str]) -> services.SaleRequest:
    """The sale the form asks for: one line per ticket with its own holder, the rest grouped by tariff;
    `described` receives each line in the clerk's words. Contacts are created here, so call it
    inside the transaction of the sale."""
    org = actor.organisation
    pos = PointOfSale.objects.filter(organisation=org, pk=post.get("point_of_sale") or 0).select_related(
        "channel").first()
    if pos is None:
        raise InvalidInput("choose the point of sale", field="point_of_sale", expected="a point of sale",
                           found=post.get("point_of_sale") or None)
    category = None
    if post.get("category"):
        category = Category.objects.filter(organisation=org, pk=post["category"]).first()
    buyer = _buyer(actor, post)
    lines: list[services.SaleLine] = []
    index = 0
    for tariff in Tariff.objects.filter(organisation=org, product=item.product).order_by("code"):
        quantity = _int(post.get(f"qty_{tariff.pk}", ""), f"quantity of {tariff.name}")
        tickets = []
        for _ in range(quantity):
            tickets.append((index + 1, _holder(actor, post, index, buyer)))
            index += 1
        # consecutive tickets with the same holder make one line: the tickets keep the screen's order
        for holder, run in groupby(tickets, key=lambda ticket: ticket[1]):
            numbers = [number for number, _ in run]
            lines.append(services.SaleLine(product=item.product, tariff=tariff, performance=item.performance,
                                           category=category, cultural_contact=holder, quantity=len(numbers)))
            described.append(f"{tariff.name}, ticket{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}")
    return services.SaleRequest(channel=pos.channel, lines=lines, buyer=buyer, point_of_sale=pos,
                                payment_mode=post.get("payment_mode") or PaymentMode.CARD)


def _line_in_words(field: str | None, described: list[str]) -> str:
    """'lines[1].quantity' → 'Full price, tickets 2, 3, 4': which of the clerk's tickets the refusal is about."""
    match = re.match(r"lines\[(\d+)\]", field or "")
    return described[int(match[1])] if match and int(match[1]) < len(described) else ""


def sell_view(model_admin, request):
    org = _organisation(request)
    item = find_item(org, request.POST.get("item") or request.GET.get("item", ""))
    error = None
    if request.method == "POST" and item is not None:
        actor = actor_for(request, org)
        described: list[str] = []
        try:
            with transaction.atomic():  # a refused sale leaves no contact behind either
                order = services.sell(actor, sale_from_post(actor, item, request.POST, described))
        except PassgateError as exc:
            error = {"field": exc.field, "sentence": error_sentence(exc), "where": _line_in_words(exc.field, described)}
        else:
            count = order.tickets.count()
            model_admin.message_user(request, f"Sold: file {order.file_number}, {count} ticket"
                                              f"{'s' if count != 1 else ''}, {order.total} {order.currency}. "
                                              "Print or e-mail the tickets below.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:sales_order_change", args=[order.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Sell at the desk", "opts": model_admin.model._meta,
        "organisations": selling_organisations(request), "org": org,
        "items": [(i.key, i.label(org)) for i in items_for_sale(org)],
        "item": item, "item_label": item.label(org) if item else "", "error": error, "post": request.POST,
        # the holders typed before a refusal, put back by the screen's script
        "posted_holders": {k: v for k, v in request.POST.items() if k.startswith("holder_")},
        "payment_modes": DESK_PAYMENT_MODES,
    }
    if item is not None:
        context.update({
            "tariffs": [(t, request.POST.get(f"qty_{t.pk}", "")) for t in
                        Tariff.objects.filter(organisation=org, product=item.product).order_by("code")],
            "categories": list(Category.objects.filter(organisation=org, product=item.product).order_by("code")),
            "points_of_sale": list(PointOfSale.objects.filter(organisation=org).select_related("channel")
                                   .order_by("code")),
        })
    return TemplateResponse(request, "admin/sales/desk_sale.html", context)


def capacity_view(model_admin, request):
    """Remaining places for the chosen item at the chosen point of sale's channel (JSON, polled by the screen)."""
    org = _organisation(request)
    item = find_item(org, request.GET.get("item", ""))
    pos = PointOfSale.objects.filter(organisation=org, pk=request.GET.get("point_of_sale") or 0).select_related(
        "channel").first()
    if item is None or pos is None:
        return JsonResponse({"rows": []})
    return JsonResponse({"rows": services.remaining_places(pos.channel, item.product, item.performance)})


# ---------------------------------------------------------------- buttons of the change pages

def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _scoped(request, model, pk) -> Any:
    row = get_object_or_404(model, pk=pk)
    if row.organisation_id not in member_roles(request):
        raise Http404
    return row


def _refused(model_admin, request, what: str, exc: PassgateError) -> HttpResponseRedirect:
    model_admin.message_user(request, f"{what} refused — {error_sentence(exc)}", messages.ERROR)
    return HttpResponseRedirect(request.META.get("HTTP_REFERER") or request.path)


TICKET_BUTTONS = {
    "print": ("Print", lambda actor, t: services.print_ticket(actor, t, t.order.point_of_sale), True),
    "reprint": ("Reprint", lambda actor, t: services.reprint_ticket(actor, t, t.order.point_of_sale), True),
    "cancel": ("Cancel", services.cancel_ticket, False),
    "invalidate": ("Invalidate", services.invalidate_ticket, False),
}


def ticket_button(model_admin, request, object_id, operation):
    ticket = _scoped(request, Ticket, object_id)
    if operation not in TICKET_BUTTONS:
        raise Http404
    label, service, returns_pdf = TICKET_BUTTONS[operation]
    actor = actor_for(request, ticket.organisation)
    back = reverse("admin:sales_ticket_change", args=[ticket.pk])
    try:
        with transaction.atomic():
            ticket = service(actor, ticket)
            content = delivery.ticket_pdf(actor, ticket) if returns_pdf else None
    except PassgateError as exc:
        model_admin.message_user(request, f"{label} refused — {error_sentence(exc)}", messages.ERROR)
        return HttpResponseRedirect(back)
    if content is not None:
        return _pdf(content, f"ticket-{ticket.pk}.pdf")
    model_admin.message_user(request, f"{label}: ticket {ticket.barcode[:16]} is {ticket.status}.",
                             messages.SUCCESS)
    return HttpResponseRedirect(back)


def ticket_pdf_view(model_admin, request, object_id):
    ticket = _scoped(request, Ticket, object_id)
    try:
        return _pdf(delivery.ticket_pdf(actor_for(request, ticket.organisation), ticket), f"ticket-{ticket.pk}.pdf")
    except PassgateError as exc:
        return _refused(model_admin, request, "PDF", exc)


def order_pdf_view(model_admin, request, object_id):
    order = _scoped(request, Order, object_id)
    try:
        return _pdf(delivery.order_pdf(actor_for(request, order.organisation), order),
                    f"tickets-{order.file_number}.pdf")
    except PassgateError as exc:
        return _refused(model_admin, request, "PDF", exc)


def order_button(model_admin, request, object_id, operation):
    order = _scoped(request, Order, object_id)
    actor = actor_for(request, order.organisation)
    back = reverse("admin:sales_order_change", args=[order.pk])
    try:
        if operation == "print":
            return _pdf(delivery.print_order(actor, order, order.point_of_sale), f"tickets-{order.file_number}.pdf")
        if operation == "email":
            email = delivery.request_order_email(actor, order, request.POST.get("recipient") or None)
            model_admin.message_user(request, f"E-mail to {email.recipient} queued; its outcome shows below "
                                              "under “E-mails”.", messages.SUCCESS)
        elif operation == "cancel":
            services.cancel_order(actor, order)
            model_admin.message_user(request, f"File {order.file_number} cancelled.", messages.SUCCESS)
        else:
            raise Http404
    except PassgateError as exc:
        model_admin.message_user(request, f"{operation.capitalize()} refused — {error_sentence(exc)}",
                                 messages.ERROR)
    return HttpResponseRedirect(back)
