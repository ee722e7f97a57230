"""OTIPASS_SALES_REINTEGRATION (seed 000, "Integrate sales in SecuTix with controlled Otipass
cards"): each granted Otipass control becomes an order, through the external sales service,
"to have a consistent view of the sales and attendances in the reporting".

- The order: channel `OTIPASS`, buyer the Otipass contact, paid by pending account; its external
  order number is the control's reference (`device:nonce`), so a run killed mid-batch and rerun
  makes exactly one order per control (a control is "reintegrated" when that order exists).
- The ticket: the product mapped to the sector (the control's product, else sectorInfos
  productCode), the tariff tariffMapping gives for the pass's product code, else the product's
  only tariff (several and no mapping: a WARNING item, passgate never guesses a price). It carries
  the control's recorded barcode (`OTI…`), not a new one, and is sold as controlled and inside at
  the control's time: attendance and sales per channel count the same visitor once.
- The OTIPASS contingent's quota exhausted: a WARNING item; the control stays unreintegrated and
  is selected again by the next run (never dropped, never oversold).
"""

from __future__ import annotations

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from pydantic import BaseModel, ConfigDict, Field

from passgate.access.models import Decision, Direction, Scan
from passgate.catalog.models import Product, SalesChannel, Tariff
from passgate.errors import Conflict, NotFound, PassgateError
from passgate.jobs.registry import FunctionSpec, register_function
from passgate.jobs.runner import REMAINING_COUNT_LIMIT, ItemRecord, RunContext
from passgate.sales.external import ExternalLine, ExternalSale, sell_external
from passgate.sales.models import Contact, Order, PaymentMode

CONNECTOR = "OTIPASS"
CHANNEL_CODE = "OTIPASS"  # seed 000: the sales channel code has to be exactly OTIPASS


class ReintegrationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_number: str | None = Field(default=None, min_length=1, max_length=40,
                                       description="number of the Otipass contact, the buyer of every order; "
                                       "default: the interface's contactNumber (OTIPASS)")


def control_reference():
    """The control's idempotent reference, computed by the database: "device id:nonce"."""
    return Concat(Cast("device_id", output_field=CharField()), Value(":"), "nonce", output_field=CharField())


def unreintegrated_controls(organisation, channel: SalesChannel):
    """Granted Otipass entries with no order yet under their reference on the channel."""
    reintegrated = Order.objects.filter(organisation=organisation, channel=channel,
                                        external_reference=OuterRef("reference"))
    return (Scan.objects.filter(organisation=organisation, connector=CONNECTOR, decision=Decision.GRANTED,
                                direction=Direction.ENTRY, device__isnull=False)
            .exclude(nonce="").exclude(recorded_barcode="")
            .annotate(reference=control_reference())
            .filter(~Exists(reintegrated))
            .select_related("sector", "product")
            .order_by("pk"))


def _product(ctx: RunContext, scan: Scan) -> Product:
    if scan.product is not None:
        return scan.product
    sector = scan.sector.code if scan.sector_id else None
    mapping = ctx.interface_params.sectorInfos.get(sector) if sector else None
    if mapping is None:
        raise NotFound("the control's sector is not mapped to an Otipass product", field="sectorInfos",
                       expected="sectorInfos." + (sector or "<sector>") + ".productCode", found=sector)
    product = Product.objects.filter(organisation=ctx.organisation, code=mapping.productCode,
                                     season__code=mapping.seasonCode).first()
    if product is None:
        raise NotFound("the mapped product does not exist", field=f"sectorInfos.{sector}.productCode",
                       expected=f"a product of season {mapping.seasonCode}", found=mapping.productCode)
    return product


def _tariff(ctx: RunContext, product: Product, pass_product: str) -> Tariff:
    # the pass's own product code first (PASS48 → …), then the product's default (PASSTOU → …)
    mapping = ctx.interface_params.tariffMapping
    key = pass_product if pass_product in mapping else product.code
    code = mapping.get(key)
    if code:
        tariff = Tariff.objects.filter(product=product, code=code).first()
        if tariff is None:
            raise NotFound(f"tariffMapping gives a tariff product {product.code} does not have",
                           field=f"tariffMapping.{key}", expected=f"a tariff of product {product.code}",
                           found=code)
        return tariff
    tariffs = list(Tariff.objects.filter(product=product)[:2])
    if len(tariffs) != 1:
        raise NotFound(f"no tariff for the pass's product code and product {product.code} has "
                       f"{'no tariff' if not tariffs else 'several tariffs'}",
                       field=f"tariffMapping.{pass_product or '<productCode>'}",
                       expected=f"a tariff code of product {product.code}", found=None)
    return tariffs[0]


def _reintegrate(ctx: RunContext, scan: Scan, channel: SalesChannel, contact: Contact) -> ItemRecord:
    info = (scan.response or {}).get("ticket") or {}
    try:
        product = _product(ctx, scan)
        tariff = _tariff(ctx, product, str(info.get("pass_product") or ""))
        order, created = sell_external(ctx.actor, ExternalSale(
            channel=channel, order_number=scan.reference, buyer=contact, payment_mode=PaymentMode.PENDING_ACCOUNT,
            lines=[ExternalLine(product=product, tariff=tariff, barcodes=[scan.recorded_barcode],
                                controlled_at=scan.scanned_at)]))
    except PassgateError as exc:
        return ItemRecord("FAILED", object_ref=scan.reference, partner_code=exc.code,
                          message=f"control {scan.recorded_barcode}: {exc.message}"
                                  + (f" ({exc.field}: expected {exc.expected})" if exc.expected else ""))
    return ItemRecord("DONE", object_ref=scan.reference, partner_code="CREATED" if created else "ALREADY",
                      message=f"control {scan.recorded_barcode} → file {order.file_number}")


def reintegrate_sales(ctx: RunContext) -> None:
    params: ReintegrationParams = ctx.params
    channel = SalesChannel.objects.filter(organisation=ctx.organisation, code=CHANNEL_CODE).first()
    if channel is None:
        raise Conflict("the external sales channel OTIPASS is missing", field="channel",
                       expected="a sales channel of code OTIPASS, type EXTERNAL_STX_FILE (run the Otipass setup)",
                       found=None)
    number = params.contact_number or ctx.interface_params.contactNumber
    contact = Contact.objects.filter(organisation=ctx.organisation, number=number).first()
    if contact is None:
        raise Conflict("the Otipass contact is missing", field="contact_number",
                       expected="a contact allowed to pay by PENDING_ACCOUNT (run the Otipass setup)",
                       found=number)
    controls = unreintegrated_controls(ctx.organisation, channel)
    batch = ctx.batch_size or None
    selected = list(controls[:batch] if batch else controls)
    ctx.select(len(selected))
    if batch and len(selected) == batch:
        ctx.remaining = controls.filter(pk__gt=selected[-1].pk)[:REMAINING_COUNT_LIMIT].count()
    else:
        ctx.remaining = 0
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", object_ref=s.reference, message="simulation: no order created")
                   for s in selected)
        ctx.summary = f"simulation: {len(selected)} Otipass controls would become orders"
        return
    for scan in selected:
        # one control, one order, one transaction (sell_external): a kill between two loses nothing
        ctx.record([_reintegrate(ctx, scan, channel, contact)])
    failed = ctx.counts["failed"]
    ctx.summary = (f"{ctx.counts['done']} Otipass controls reintegrated as orders"
                   + (f", {failed} kept for the next run (see the items)" if failed else "")
                   + (f", {ctx.remaining} left for the next run" if ctx.remaining else ""))


def register() -> None:
    register_function(CONNECTOR, FunctionSpec(
        name="OTIPASS_SALES_REINTEGRATION", label="Otipass sales reintegration", run=reintegrate_sales,
        params_schema=ReintegrationParams, default_batch_size=500, max_batch_size=5000,
        description="Turns each granted Otipass control into an order on the OTIPASS channel (buyer the Otipass "
                    "contact, pending account), one ticket carrying the control's OTI… barcode; idempotent by the "
                    "control's reference. A quota exhausted is a WARNING item, kept for the next run."))
