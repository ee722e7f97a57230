"""Access settings and signing keys, sectors, doors and access rules."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from passgate.catalog.models import Product
from passgate.errors import Conflict, InvalidInput
from passgate.orgs.permissions import Permission
from passgate.orgs.services import (
    Actor,
    check_same_organisation,
    create_scoped,
    delete_scoped,
    record_audit,
    snapshot,
    update_scoped,
)

from ..changes import log_changes
from ..models import (
    AccessRule,
    AccessSettings,
    ChangeKind,
    Door,
    Sector,
)


def access_settings(organisation) -> AccessSettings:
    obj = AccessSettings.objects.filter(organisation=organisation).first()
    if obj is None:
        AccessSettings.objects.bulk_create([AccessSettings(organisation=organisation)], ignore_conflicts=True)
        obj = AccessSettings.objects.get(organisation=organisation)
    return obj


def set_signed_barcodes(actor: Actor, enabled: bool) -> AccessSettings:
    """Switch the organisation to signed barcodes (new sales and reprints carry a signed payload)."""
    from .. import signing

    actor.require(Permission.MANAGE_ACCESS)
    with transaction.atomic():
        obj = access_settings(actor.organisation)
        before = snapshot(obj)
        obj.signed_barcodes = bool(enabled)
        obj.save(update_fields=["signed_barcodes", "updated_at"])  # never write back config_version
        if enabled and signing.current_key(actor.organisation.pk) is None:
            signing.create_key(actor.organisation.pk)
        record_audit(actor, "set_signed_barcodes", obj, before, snapshot(obj))
    return obj


def rotate_signing_key(actor: Actor):
    """A new key signs from now on; the old one is retired but still verifies."""
    from .. import signing
    from ..models import SigningKey

    actor.require(Permission.MANAGE_ACCESS)
    with transaction.atomic():
        SigningKey.objects.filter(organisation=actor.organisation, retired_at__isnull=True).update(
            retired_at=timezone.now())
        key = signing.create_key(actor.organisation.pk)
        record_audit(actor, "rotate_signing_key", key, None, snapshot(key))
    return key


def _check_interface(actor: Actor, interface: Any) -> Any:
    """The partner interface a sector is linked to: one of the organisation's, of a type whose
    connector recognises cards at the doors."""
    if interface is None:
        return None
    from passgate.jobs import registry

    check_same_organisation(actor, {"interface": interface})
    spec = registry.types().get(interface.type)
    if spec is None or spec.access is None:
        door_types = sorted(code for code, s in registry.types().items() if s.access is not None)
        raise InvalidInput("this interface's connector does not check cards at doors", field="interface",
                           expected="an interface of type " + (", ".join(door_types) or "(none installed)"),
                           found=f"{interface.name} ({interface.type})")
    return interface


def _options(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("connector options must be a JSON object", field="connector_options",
                           expected="an object such as {\"serviceId\": \"…\"}", found=type(value).__name__)
    return value


def create_sector(actor: Actor, code: str, name: str, *, reentry_allowed: bool = False, interface: Any = None,
                  connector_options: dict | None = None, admit_when_partner_unreachable: bool = True) -> Sector:
    if Sector.objects.filter(organisation=actor.organisation, code=code).exists():
        raise InvalidInput("a sector with this code exists already (a sector code appears once)", field="code",
                           code="duplicate", expected="a new sector code", found=code)
    return create_scoped(actor, Sector, Permission.MANAGE_ACCESS, code=code, name=name,
                         reentry_allowed=reentry_allowed, interface=_check_interface(actor, interface),
                         connector_options=_options(connector_options),
                         admit_when_partner_unreachable=admit_when_partner_unreachable)


def update_sector(actor: Actor, sector: Sector, **fields: Any) -> Sector:
    if "interface" in fields:
        fields["interface"] = _check_interface(actor, fields["interface"])
    if "connector_options" in fields:
        fields["connector_options"] = _options(fields["connector_options"])
    with transaction.atomic():
        sector = update_scoped(actor, sector, Permission.MANAGE_ACCESS, **fields)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector.pk, "")])
    return sector


def serve_sectors(actor: Actor, interface: Any, codes: list[str]) -> tuple[list[str], list[str]]:
    """Make `interface` the partner interface of exactly the sectors `codes` (its own mapping):
    link those, unlink the sectors it served and no longer maps. Called by a connector when its
    interface is saved (the operator changes the mapping, not each sector); a sector already served
    by another interface is refused. Returns (codes linked, codes unlinked)."""
    check_same_organisation(actor, {"interface": interface})
    sectors = {s.code: s for s in Sector.objects.select_for_update().filter(organisation=actor.organisation)
               .filter(models.Q(code__in=codes) | models.Q(interface=interface))}
    linked, unlinked = [], []
    for code in codes:
        sector = sectors.get(code)
        if sector is None:
            raise InvalidInput("no sector has this code in the organisation", field="sector", code="not_found",
                               expected="the code of one of the organisation's sectors", found=code)
        if sector.interface_id not in (None, interface.pk):
            raise Conflict(f"the sector {code} is served by another interface already; one sector, one "
                           "interface", field="sector", expected=f"sector {code} free or served by "
                           f"{interface.name}", found=f"served by {sector.interface}")
    for sector in sectors.values():
        wanted = sector.code in codes
        if wanted and sector.interface_id != interface.pk:
            update_scoped(actor, sector, Permission.MANAGE_INTERFACES, interface=interface)
            linked.append(sector.code)
        elif not wanted and sector.interface_id == interface.pk:
            update_scoped(actor, sector, Permission.MANAGE_INTERFACES, interface=None)
            unlinked.append(sector.code)
    changed = [s for s in sectors.values() if s.code in linked or s.code in unlinked]
    if changed:
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, s.pk, "") for s in changed])
    return linked, unlinked


def create_door(actor: Actor, sector: Sector, code: str, name: str) -> Door:
    if Door.objects.filter(organisation=actor.organisation, code=code).exists():
        raise InvalidInput("a door with this code exists already", field="code", code="duplicate",
                           expected="a new door code", found=code)
    return create_scoped(actor, Door, Permission.MANAGE_ACCESS, sector=sector, code=code, name=name)


def add_rule(actor: Actor, sector: Sector, product: Product, performance=None, tariff=None,
             category=None) -> AccessRule:
    for name, value in (("performance", performance), ("tariff", tariff), ("category", category)):
        if value is not None and value.product_id != product.pk:
            raise InvalidInput(f"the {name} belongs to another product", field=name,
                               expected=f"a {name} of product {product.code}", found=getattr(value, "code", value.pk))
    with transaction.atomic():
        rule = create_scoped(actor, AccessRule, Permission.MANAGE_ACCESS, sector=sector, product=product,
                             performance=performance, tariff=tariff, category=category)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector.pk, "")])
    return rule


def delete_rule(actor: Actor, rule: AccessRule) -> None:
    with transaction.atomic():
        sector_id = rule.sector_id
        delete_scoped(actor, rule, Permission.MANAGE_ACCESS)
        log_changes(actor.organisation.pk, [(ChangeKind.RESET, sector_id, "")])
