"""OTIPASS_BARCODE_SYNC: the Otipass whitelist pulled into passgate's external barcodes, and the
wiring of the connector's parts (door hook, "test connection", functions) on the OTIPASS type.

Each page of passes changed since the stored cursor is imported (idempotent) with its season
(the mapped sector's seasonCode), the partner's product code and the tariff `tariffMapping` gives
it; a blocked, invalid, expired or removed pass goes to the block list. The cursor moves in the
same transaction as the page it covers, so a killed run resumes where it stopped. Cards then
show in the white list export and offline packages before their first scan."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field

from passgate.access.models import ExternalBarcodeStatus, ExternalProductMapping
from passgate.access.services import import_external_barcodes, set_external_mapping
from passgate.catalog.models import Tariff
from passgate.errors import InvalidInput
from passgate.jobs.registry import FunctionSpec, register_function, register_type, types
from passgate.jobs.runner import ItemRecord, RunContext
from passgate.sales.models import Ticket

from .client import OtipassClient, Pass
from .connection import test_connection
from .door import OtipassDoor

BARCODE_SYNC = "OTIPASS_BARCODE_SYNC"
SOURCE = OtipassDoor.name  # the doors hand the barcodes of this source to the Otipass connector
CURSOR = "cursor"
# Passes that must not enter: on the block list, with the partner's state as the reason.
BLOCKING_STATES = {"BLOCKED", "INVALID", "EXPIRED", "OUT_OF_SYSTEM"}


class BarcodeSyncParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(500, ge=1, le=1000, description="Passes asked from Otipass per call.")


def _sectors(parameters: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    sectors = sorted((code, info) for code, info in (parameters.get("sectorInfos") or {}).items()
                     if isinstance(info, dict))
    if not sectors:
        raise InvalidInput("no sector is mapped: the synchronised passes would have no season", field="parameters",
                           expected="sectorInfos with at least one sector", found="{}")
    return sectors


def _sync_mappings(ctx: RunContext, parameters: dict[str, Any]) -> None:
    """tariffMapping (partner product code → tariff code of the mapped product) as external mappings."""
    pairs = {(info.get("seasonCode"), info.get("productCode")) for _, info in _sectors(parameters)}
    for partner_product, tariff_code in sorted((parameters.get("tariffMapping") or {}).items()):
        for season_code, product_code in sorted(pairs):
            tariff = Tariff.objects.filter(organisation=ctx.organisation, product__season__code=season_code,
                                           product__code=product_code, code=tariff_code).first()
            if tariff is None:
                raise InvalidInput(f"tariffMapping: {partner_product} → {tariff_code}: no such tariff of the "
                                   f"product {season_code}/{product_code}", field="parameters.tariffMapping",
                                   expected=f"a tariff code of {season_code}/{product_code}", found=tariff_code)
            current = ExternalProductMapping.objects.filter(
                organisation=ctx.organisation, source=SOURCE, season_code=season_code,
                product_code=partner_product).values_list("tariff_id", flat=True).first()
            if current != tariff.pk:
                set_external_mapping(ctx.actor, SOURCE, season_code, partner_product, tariff)


def _season(card: Pass, sectors: list[tuple[str, dict[str, Any]]]) -> str:
    """The season of the first sector (by code) whose service the pass includes."""
    for _, info in sectors:
        if str(info.get("OtipassServiceId", "")).upper() in card.included_services:
            return info["seasonCode"]
    return sectors[0][1]["seasonCode"]


def _item(card: Pass, season: str) -> dict[str, Any]:
    blocked = card.state in BLOCKING_STATES
    return {"barcode": card.number, "season_code": season, "product_code": card.product_ref,
            "status": ExternalBarcodeStatus.BLOCKED if blocked else ExternalBarcodeStatus.ACTIVE,
            "block_reason": card.state if blocked else "",
            "valid_from": card.raw.get("validFrom"), "valid_until": card.raw.get("validUntil")}


def barcode_sync(ctx: RunContext) -> None:
    parameters = ctx.interface.parameters or {}
    sectors = _sectors(parameters)
    params: BarcodeSyncParams = ctx.params
    wanted = ctx.batch_size or 10_000
    cursor = ctx.state.get(CURSOR)
    if not ctx.simulation:
        _sync_mappings(ctx, parameters)
    seen = 0
    with ctx.http(OtipassClient, project=parameters.get("OtipassProjectId", ""), username=ctx.interface.username,
                  api_key=ctx.secret) as client:
        while seen < wanted:
            limit = min(params.page_size, wanted - seen)
            page = client.whitelist(cursor, limit)
            if not page.passes:
                break
            ctx.select(len(page.passes))
            seen += len(page.passes)
            if ctx.simulation:
                ctx.record(ItemRecord("SKIPPED", object_ref=c.number, partner_code=c.state,
                                      message="simulation: not imported") for c in page.passes)
                break
            tickets = set(Ticket.objects.filter(organisation=ctx.organisation,
                                                barcode__in=[c.number for c in page.passes])
                          .values_list("barcode", flat=True))
            records = [ItemRecord("FAILED", object_ref=c.number, partner_code=c.state,
                                  message="this card number is a ticket passgate issued: not imported")
                       for c in page.passes if c.number in tickets]
            cards = [c for c in page.passes if c.number not in tickets]
            with transaction.atomic():  # the page and the cursor that covers it, together
                import_external_barcodes(ctx.actor, SOURCE, [_item(c, _season(c, sectors)) for c in cards])
                records += [ItemRecord("DONE", object_ref=c.number, partner_code=c.state,
                                       message="blocked" if c.state in BLOCKING_STATES else "")
                            for c in cards]
                ctx.record(records, state={CURSOR: page.next_cursor})
            cursor = page.next_cursor
            if len(page.passes) < limit:
                break
    ctx.summary = (f"simulation: {ctx.counts['selected']} pass(es) would be synchronised" if ctx.simulation else
                   f"{ctx.counts['done']} pass(es) synchronised, {ctx.counts['failed']} refused")


def register() -> None:
    """Put the door hook and "test connection" on the OTIPASS type (registered by interface.py
    just before), and the barcode synchronisation."""
    spec = types()["OTIPASS"]
    register_type(dataclasses.replace(spec, test_connection=test_connection, access=OtipassDoor(), functions={}))
    register_function("OTIPASS", FunctionSpec(
        name=BARCODE_SYNC, label="Otipass: synchronise barcodes", run=barcode_sync, params_schema=BarcodeSyncParams,
        default_batch_size=10_000, max_batch_size=100_000,
        description="Pulls the Otipass whitelist (passes changed since the last run) into passgate's external "
                    "barcodes; blocked or removed passes go to the block list."))
