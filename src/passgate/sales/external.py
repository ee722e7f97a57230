"""External sales: orders another seller already made (a partner's shop, a city-pass issuer, an
STX file), brought into passgate so that sales and attendance reports see them (seed 000:
"Create sales using the current external sales interface", channel type STX file).

One rule set for every way in: the API (`POST /api/v1/sales/external`), the CSV import
(`passgate sales import-external FILE`) and the Otipass sales reintegration.

- Idempotent by (channel, external order number): the same number again returns the same
  order; the same number with a different content is a Conflict naming the differences.
- The partner already sold the places: only the channel's contingent limits the sale (Conflict
  `quota_exhausted`, to retry once the quota is raised); the performance's or product's
  capacity never refuses it.
- A barcode the partner printed is kept as is, never replaced; one already in use is a
  Conflict `barcode_taken` naming the line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError

from passgate.catalog.models import ChannelType, Performance, Product, SalesChannel, Tariff
from passgate.errors import Conflict, InvalidInput, NotFound
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, check_same_organisation

from .barcodes import barcode_taken
from .models import Contact, Order, PaymentMode
from .services import MAX_TICKETS_PER_LINE, SaleLine, SaleRequest, sell_once

MAX_ORDER_NUMBER_LENGTH = 120
MAX_LINES = 50
# Printable ASCII without spaces: what a door scanner reads back unchanged.
BARCODE_PATTERN = re.compile(r"[!-~]{1,120}")


@dataclass
class ExternalLine:
    product: Product
    tariff: Tariff
    performance: Performance | None = None
    quantity: int = 1
    # The barcodes the partner printed, one per ticket; empty = passgate issues them.
    barcodes: list[str] = field(default_factory=list)
    # Already controlled by the partner at this time (the Otipass reintegration): the tickets
    # are sold as controlled and inside, as the control was.
    controlled_at: dt.datetime | None = None


@dataclass
class ExternalSale:
    channel: SalesChannel
    order_number: str  # the partner's order number: the idempotency key on this channel
    buyer: Contact
    payment_mode: str
    lines: list[ExternalLine]


def _check(actor: Actor, sale: ExternalSale) -> None:
    check_same_organisation(actor, {"channel": sale.channel, "buyer": sale.buyer})
    if sale.channel.type != ChannelType.EXTERNAL_STX_FILE:
        raise InvalidInput("external sales go to an external sales channel", field="channel",
                           expected=f"a channel of type {ChannelType.EXTERNAL_STX_FILE}",
                           found=f"{sale.channel.code} ({sale.channel.type})")
    number = sale.order_number or ""
    if not number.strip() or len(number) > MAX_ORDER_NUMBER_LENGTH or number != number.strip():
        raise InvalidInput("the external order number is the idempotency key", field="order_number",
                           expected=f"1 to {MAX_ORDER_NUMBER_LENGTH} characters, no surrounding spaces",
                           found=number)
    if sale.buyer is None:
        raise InvalidInput("an external sale is made for a buyer contact", field="buyer",
                           expected="a contact number", found=None)
    if not 1 <= len(sale.lines) <= MAX_LINES:
        raise InvalidInput("wrong number of lines", field="lines", expected=f"1 to {MAX_LINES} lines",
                           found=len(sale.lines))
    seen: dict[str, str] = {}
    for i, line in enumerate(sale.lines):
        where = f"lines[{i}]"
        if not 1 <= line.quantity <= MAX_TICKETS_PER_LINE:
            raise InvalidInput("quantity out of range", field=f"{where}.quantity",
                               expected=f"1 to {MAX_TICKETS_PER_LINE}", found=line.quantity)
        if line.barcodes and len(line.barcodes) != line.quantity:
            raise InvalidInput("one barcode per ticket, or none", field=f"{where}.barcodes",
                               expected=f"{line.quantity} barcodes (the quantity) or none",
                               found=f"{len(line.barcodes)} barcodes")
        for k, barcode in enumerate(line.barcodes):
            here = f"{where}.barcodes[{k}]"
            if not isinstance(barcode, str) or not BARCODE_PATTERN.fullmatch(barcode):
                raise InvalidInput("a barcode is 1 to 120 printable characters without spaces", field=here,
                                   expected="e.g. OTI1234567890", found=barcode)
            if barcode in seen:
                raise InvalidInput(f"barcode {barcode} appears twice in this sale", field=here,
                                   expected="each barcode once", found=f"also at {seen[barcode]}")
            seen[barcode] = here


def _barcode_clash(sale: ExternalSale) -> Conflict | None:
    for i, line in enumerate(sale.lines):
        for k, barcode in enumerate(line.barcodes):
            if barcode_taken(barcode):
                return Conflict(f"barcode {barcode} of line {i + 1} is already used by another ticket",
                                code="barcode_taken", field=f"lines[{i}].barcodes[{k}]",
                                expected="a barcode no ticket has or had", found=barcode)
    return None


def _sale_request(sale: ExternalSale) -> SaleRequest:
    return SaleRequest(
        channel=sale.channel, buyer=sale.buyer, payment_mode=sale.payment_mode,
        external_reference=sale.order_number, external=True,
        lines=[SaleLine(product=line.product, tariff=line.tariff, performance=line.performance,
                        quantity=line.quantity, barcodes=list(line.barcodes), controlled_at=line.controlled_at)
               for line in sale.lines])


def sell_external(actor: Actor, sale: ExternalSale) -> tuple[Order, bool]:
    """Record an external sale: (order, True) when created, (order, False) for a replay."""
    actor.require(Permission.SELL)
    _check(actor, sale)
    request = _sale_request(sale)
    replayed = Order.objects.filter(organisation=actor.organisation, channel=sale.channel,
                                    external_reference=sale.order_number).exists()
    if not replayed and (clash := _barcode_clash(sale)):
        raise clash
    try:
        return sell_once(actor, request)
    except IntegrityError:
        # Another sale took one of the barcodes between the check and the insert.
        clash = _barcode_clash(sale)
        if clash is None:
            raise
        raise clash from None


# ---------------------------------------------------------------- from codes (API, CSV)

def _text(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise InvalidInput(f"{key} is missing", field=f"{where}{key}", expected=f"a {key.replace('_', ' ')}",
                           found=value or None)
    return value


def _one(actor: Actor, model: type, field_name: str, label: str, **lookup: Any) -> Any:
    row = model.objects.filter(organisation=actor.organisation, **lookup).first()
    if row is None:
        raise NotFound(f"no such {label} in this organisation", field=field_name,
                       expected=f"the code of an existing {label}", found=next(iter(lookup.values())))
    return row


def _product(actor: Actor, code: str, season: str, where: str) -> Product:
    lookup = {"code": code, **({"season__code": season} if season else {})}
    found = list(Product.objects.filter(organisation=actor.organisation, **lookup).select_related("season"))
    if not found:
        raise NotFound("no such product in this organisation", field=f"{where}product",
                       expected="the code of an existing product" + (f" of season {season}" if season else ""),
                       found=code)
    if len(found) > 1:
        raise InvalidInput(f"product {code} exists in several seasons", field=f"{where}season",
                           expected="one of " + ", ".join(sorted(p.season.code for p in found)), found=None)
    return found[0]


def external_line_from_data(actor: Actor, data: Mapping[str, Any], where: str) -> ExternalLine:
    product = _product(actor, _text(data, "product", where), _text(data, "season", where, False), where)
    tariff_code = _text(data, "tariff", where)
    tariff = Tariff.objects.filter(product=product, code=tariff_code).first()
    if tariff is None:
        raise NotFound(f"product {product.code} has no such tariff", field=f"{where}tariff",
                       expected="one of " + (", ".join(product.tariffs.values_list("code", flat=True)) or "(none)"),
                       found=tariff_code)
    performance = None
    if perf_code := _text(data, "performance", where, False):
        performance = Performance.objects.filter(product=product, code=perf_code).first()
        if performance is None:
            raise NotFound(f"product {product.code} has no such performance", field=f"{where}performance",
                           expected="the code of a performance of the product", found=perf_code)
    quantity = data.get("quantity", 1)
    if isinstance(quantity, str):
        quantity = quantity.strip() or "1"
        if not quantity.isdigit():
            raise InvalidInput("the quantity is a whole number", field=f"{where}quantity",
                               expected=f"1 to {MAX_TICKETS_PER_LINE}", found=quantity)
        quantity = int(quantity)
    barcodes = data.get("barcodes") or []
    if isinstance(barcodes, str):
        barcodes = barcodes.split()
    return ExternalLine(product=product, tariff=tariff, performance=performance, quantity=quantity,
                        barcodes=list(barcodes))


def external_sale_from_data(actor: Actor, data: Mapping[str, Any],
                            lines: list[Mapping[str, Any]] | None = None) -> ExternalSale:
    """An ExternalSale from codes (channel code, contact number, product/season/performance/tariff
    codes), as the API and the CSV import give them; each unknown code names its field."""
    channel = _one(actor, SalesChannel, "channel", "sales channel", code=_text(data, "channel", ""))
    buyer = _one(actor, Contact, "buyer", "contact", number=_text(data, "buyer", ""))
    payment_mode = _text(data, "payment_mode", "", False) or PaymentMode.EXTERNAL
    raw_lines = data.get("lines") if lines is None else lines
    if not isinstance(raw_lines, list) or not raw_lines:
        raise InvalidInput("an external sale needs at least one line", field="lines", expected="1 or more lines",
                           found=0)
    return ExternalSale(
        channel=channel, order_number=_text(data, "order_number", ""), buyer=buyer, payment_mode=payment_mode,
        lines=[external_line_from_data(actor, line, f"lines[{i}].") for i, line in enumerate(raw_lines)])
