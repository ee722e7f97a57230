"""External barcodes (partner whitelists) and their season/product/tariff mapping."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from passgate.catalog.models import Tariff
from passgate.errors import Conflict, InvalidInput, PassgateError, WrongShape, expect_text, shown
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    record_audit,
    snapshot,
)
from passgate.sales.models import Ticket

from ..changes import log_changes
from ..models import (
    ChangeKind,
    ExternalBarcode,
    ExternalBarcodeStatus,
    ExternalProductMapping,
)
from .history import _history_batch
from .inputs import clean_barcode, clean_time


def set_external_mapping(actor: Actor, source: str, season_code: str, product_code: str,
                         tariff: Tariff) -> ExternalProductMapping:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"tariff": tariff})
    for name, value in (("source", source), ("season_code", season_code), ("product_code", product_code)):
        if not value or not str(value).strip():
            raise InvalidInput(f"{name} is required", field=name, expected="a code", found=value)
    with transaction.atomic():
        mapping = ExternalProductMapping.objects.filter(organisation=actor.organisation, source=source,
                                                        season_code=season_code, product_code=product_code).first()
        before = snapshot(mapping)
        if mapping is None:
            mapping = ExternalProductMapping(organisation=actor.organisation, source=source,
                                             season_code=season_code, product_code=product_code)
        mapping.tariff = tariff
        mapping.save()
        record_audit(actor, "set_mapping", mapping, before, snapshot(mapping))
        # Barcodes already imported under this product code now map to the tariff.
        changed = list(ExternalBarcode.objects.filter(organisation=actor.organisation, source=source,
                                                      season_code=season_code, product_code=product_code)
                       .values_list("pk", flat=True))
        ExternalBarcode.objects.filter(pk__in=changed).update(tariff=tariff, product_id=tariff.product_id)
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, pk, "") for pk in changed])
    return mapping


def import_external_barcodes(actor: Actor, source: str, items: list[Any]) -> dict[str, Any]:
    """Upsert barcodes passgate did not issue, with their season and product codes;
    the product-code → tariff mapping says under which tariff they are sold. Idempotent."""
    actor.require(Permission.MANAGE_ACCESS)
    if not source or not str(source).strip():
        raise InvalidInput("source is required", field="source", expected="who issues them, e.g. otipass",
                           found=source)
    _history_batch(items, "barcodes")
    mappings = {(m.season_code, m.product_code): m.tariff for m in
                ExternalProductMapping.objects.filter(organisation=actor.organisation, source=source)
                .select_related("tariff")}
    created = updated = unchanged = 0
    unmapped: set[str] = set()
    with transaction.atomic():
        changed_ids = []
        for i, raw in enumerate(items):
            where = f"barcodes[{i}]"
            if not isinstance(raw, dict):
                raise WrongShape("each barcode must be an object", field=where, expected="an object",
                                 found=shown(raw))
            barcode = clean_barcode(raw.get("barcode"), f"{where}.barcode")
            season_code = expect_text(raw.get("season_code"), f"{where}.season_code").strip()
            product_code = expect_text(raw.get("product_code"), f"{where}.product_code").strip()
            if not season_code:
                raise InvalidInput("season_code is required", field=f"{where}.season_code", expected="a season code")
            if not product_code:
                raise InvalidInput("product_code is required", field=f"{where}.product_code",
                                   expected="a product code")
            status = raw.get("status") or ExternalBarcodeStatus.ACTIVE
            if status not in ExternalBarcodeStatus.values:
                raise WrongShape("unknown status", field=f"{where}.status", expected="ACTIVE or BLOCKED",
                                 found=shown(status))
            valid_from = clean_time(raw["valid_from"], f"{where}.valid_from") if raw.get("valid_from") else None
            valid_until = clean_time(raw["valid_until"], f"{where}.valid_until") if raw.get("valid_until") else None
            if Ticket.objects.filter(organisation=actor.organisation, barcode=barcode).exists():
                raise Conflict("this barcode is a ticket passgate issued", field=f"{where}.barcode",
                               code="duplicate", expected="a barcode passgate did not issue", found=barcode)
            tariff = mappings.get((season_code, product_code))
            if tariff is None:
                unmapped.add(f"{season_code}/{product_code}")
            values = {"source": source, "season_code": season_code, "product_code": product_code,
                      "category_code": expect_text(raw.get("category_code"), f"{where}.category_code")[:40], "tariff": tariff,
                      "product_id": tariff.product_id if tariff else None, "status": status,
                      "valid_from": valid_from, "valid_until": valid_until}
            ext = ExternalBarcode.objects.filter(organisation=actor.organisation, barcode=barcode).first()
            if ext is None:
                ext = ExternalBarcode(organisation=actor.organisation, barcode=barcode, **values)
                if status == ExternalBarcodeStatus.BLOCKED:
                    ext.blocked_at = timezone.now()
                    ext.block_reason = expect_text(raw.get("block_reason") or "BLOCKED",
                                                   f"{where}.block_reason")[:60]
                ext.save()
                created += 1
                changed_ids.append(ext.pk)
                continue
            diff = {k: v for k, v in values.items()
                    if getattr(ext, "tariff" if k == "tariff" else k) != v}
            if not diff:
                unchanged += 1
                continue
            for k, v in diff.items():
                setattr(ext, k, v)
            if "status" in diff:
                ext.blocked_at = timezone.now() if status == ExternalBarcodeStatus.BLOCKED else None
                ext.block_reason = (expect_text(raw.get("block_reason") or "BLOCKED", f"{where}.block_reason")[:60]
                                    if ext.blocked_at else "")
            ext.save()
            updated += 1
            changed_ids.append(ext.pk)
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, pk, "") for pk in changed_ids])
        record_audit(actor, "import_external_barcodes", actor.organisation, None,
                     {"source": source, "created": created, "updated": updated, "unchanged": unchanged})
    return {"created": created, "updated": updated, "unchanged": unchanged, "unmapped": sorted(unmapped)}


def block_external_barcode(actor: Actor, ext: ExternalBarcode, reason: str = "BLOCKED") -> ExternalBarcode:
    actor.require(Permission.MANAGE_ACCESS)
    check_same_organisation(actor, {"barcode": ext})
    with transaction.atomic():
        before = snapshot(ext)
        ExternalBarcode.objects.filter(pk=ext.pk).update(status=ExternalBarcodeStatus.BLOCKED,
                                                         blocked_at=timezone.now(), block_reason=reason[:60])
        ext.refresh_from_db()
        log_changes(actor.organisation.pk, [(ChangeKind.EXTERNAL, ext.pk, "")])
        record_audit(actor, "block", ext, before, snapshot(ext))
    return ext


def external_sale_info(organisation, barcode: str) -> dict[str, Any] | None:
    """What selling an external barcode needs (the Otipass reintegration uses it)."""
    ext = ExternalBarcode.objects.select_related("tariff", "tariff__product").filter(
        organisation=organisation, barcode=barcode).first()
    if ext is None:
        return None
    return {"barcode": ext.barcode, "source": ext.source, "season_code": ext.season_code,
            "product_code": ext.product_code, "tariff": ext.tariff, "product": ext.tariff.product if ext.tariff else None,
            "ticket": ext.ticket_id}


def link_external_to_ticket(ext: ExternalBarcode, ticket: Ticket) -> None:
    ExternalBarcode.objects.filter(pk=ext.pk).update(ticket=ticket)


__all__ = [name for name in dir() if not name.startswith("_")] + ["PassgateError"]
