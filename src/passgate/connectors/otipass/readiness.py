"""The readiness checklist of an Otipass interface: seed 001's seven set-up steps, each DONE,
MISSING or WRONG with the fix in words. One function computes it; the interface's admin page
and `GET /api/v1/otipass/interfaces/{id}/readiness` show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from passgate.catalog.models import ChannelType, Contingent, Family, Product, SalesChannel, Tariff
from passgate.sales.models import Contact, PaymentMode

from .interface import DEFAULT_CONTACT

CHANNEL_CODE = "OTIPASS"  # seed 001: "Sales channel Code has to be exactly OTIPASS"
DONE, MISSING, WRONG = "DONE", "MISSING", "WRONG"
SETUP_HINT = "or run the setup assistant (`passgate otipass setup`, or the action “Set up / repair” on this page)"


@dataclass(frozen=True)
class Check:
    step: int
    title: str
    status: str  # DONE, MISSING or WRONG
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status == DONE

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _worst(problems: list[tuple[str, str, str]], step: int, title: str, done: str) -> Check:
    """One check from the (status, detail, fix) problems found for a step: WRONG beats MISSING."""
    if not problems:
        return Check(step, title, DONE, done)
    problems.sort(key=lambda p: p[0] != WRONG)
    status = problems[0][0]
    return Check(step, title, status, "; ".join(p[1] for p in problems), " ".join(dict.fromkeys(p[2] for p in problems)))


def mapped_products(interface) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Product]]:
    infos = (interface.parameters or {}).get("sectorInfos") or {}
    keys = sorted({(i.get("seasonCode", ""), i.get("productCode", "")) for i in infos.values()})
    found = {(p.season.code, p.code): p for p in Product.objects.filter(
        organisation=interface.organisation, code__in={k[1] for k in keys}).select_related("season")}
    return keys, {k: found[k] for k in keys if k in found}


def readiness(interface) -> list[Check]:
    from passgate.access.models import Device, DeviceStatus, Door, Sector

    org = interface.organisation
    params = interface.parameters or {}
    infos: dict[str, dict] = params.get("sectorInfos") or {}
    keys, products = mapped_products(interface)
    checks: list[Check] = []

    # 1. the open pass
    problems = []
    if not keys:
        problems.append((MISSING, "no sector is mapped, so no product is named",
                         "Add the sectors to sectorInfos with their seasonCode and productCode."))
    for key in keys:
        product = products.get(key)
        if product is None:
            problems.append((MISSING, f"product {key[1]} of season {key[0]} does not exist",
                             f"Create it in Catalogue › Products (family Open pass, season {key[0]}), {SETUP_HINT}."))
        elif product.family != Family.OPEN_PASS:
            problems.append((WRONG, f"product {key[1]} is a {product.family}, not an open pass",
                             "Map an Open pass product: an Otipass card is controlled several times."))
    checks.append(_worst(problems, 1, "Open pass product for the Otipass entrances",
                         "open pass " + ", ".join(f"{p}/{s}" for s, p in keys)))

    # 2. the channel
    channel = SalesChannel.objects.filter(organisation=org, code=CHANNEL_CODE).first()
    if channel is None:
        checks.append(Check(2, "External sales channel OTIPASS", MISSING, "no sales channel has the code OTIPASS",
                            "Create it in Catalogue › Sales channels with the code exactly OTIPASS and the type "
                            f"External sales (STX file), {SETUP_HINT}."))
    elif channel.type != ChannelType.EXTERNAL_STX_FILE:
        checks.append(Check(2, "External sales channel OTIPASS", WRONG, f"channel OTIPASS has the type {channel.type}",
                            "Set its type to External sales (STX file) in Catalogue › Sales channels."))
    else:
        checks.append(Check(2, "External sales channel OTIPASS", DONE, "channel OTIPASS, External sales (STX file)"))

    # 3. its contingent, 6. its quota
    contingents = {c.product_id: c for c in Contingent.objects.filter(
        organisation=org, channel=channel, performance__isnull=True)} if channel else {}
    found_c, quota = [], []
    for key in keys:
        product = products.get(key)
        if product is None:
            continue
        contingent = contingents.get(product.pk)
        if contingent is None:
            found_c.append((MISSING, f"channel OTIPASS has no contingent of {product.code}",
                            f"Create one in Catalogue › Contingents (channel OTIPASS, product {product.code}), "
                            f"{SETUP_HINT}."))
        elif contingent.quota == 0:
            quota.append((MISSING, f"contingent {contingent.code} exists but has no quota",
                          f"Set a quota on contingent {contingent.code} in Catalogue › Contingents."))
        elif contingent.sold_count >= contingent.quota:
            quota.append((WRONG, f"contingent {contingent.code} is exhausted ({contingent.sold_count}/"
                          f"{contingent.quota}): controlled cards wait for reintegration",
                          f"Raise the quota of contingent {contingent.code} in Catalogue › Contingents."))
    if not channel:
        found_c.append((MISSING, "no channel OTIPASS yet", "Create the channel first (step 2)."))
    checks.append(_worst(found_c, 3, "External contingent of channel OTIPASS",
                         ", ".join(c.code for c in contingents.values()) or "-"))

    # 4. the contact
    number = params.get("contactNumber") or DEFAULT_CONTACT
    contact = Contact.objects.filter(organisation=org, number=number).first()
    if contact is None:
        checks.append(Check(4, "Otipass contact paying by pending account", MISSING,
                            f"no contact has the number {number}",
                            f"Create the contact {number} in Sales › Contacts with the payment mode Pending "
                            f"account, {SETUP_HINT}."))
    elif PaymentMode.PENDING_ACCOUNT not in (contact.payment_modes or []):
        checks.append(Check(4, "Otipass contact paying by pending account", WRONG,
                            f"contact {number} may not pay by pending account",
                            f"Add Pending account to the payment modes of contact {number} in Sales › Contacts."))
    else:
        checks.append(Check(4, "Otipass contact paying by pending account", DONE, f"contact {contact}"))

    # 5. the interface itself
    problems = []
    for what, ok, fix in (("URL", interface.url, "Enter the URL Otipass gave (…/api/PROJECT)."),
                          ("user name", interface.username, "Enter the user name Otipass gave."),
                          ("password (API key)", interface.has_secret, "Enter the API key Otipass gave."),
                          ("project id", params.get("OtipassProjectId"), "Enter the URL …/api/PROJECT.")):
        if not ok:
            problems.append((MISSING, f"no {what}", fix))
    if not interface.enabled:
        problems.append((WRONG, "the interface is disabled", "Tick Enabled on this page."))
    checks.append(_worst(problems, 5, "Otipass interface (URL, user, API key, project)",
                         f"{interface.url} project {params.get('OtipassProjectId')}, user {interface.username}"))

    # 6. the quota
    if not contingents and not quota:
        quota.append((MISSING, "no contingent yet", "Create the contingent first (step 3)."))
    checks.append(_worst(quota, 6, "Quota of the OTIPASS contingent",
                         ", ".join(f"{c.code} {c.sold_count}/{c.quota}" for c in contingents.values())))

    # 7. the mapping: sectors served, each with a door and a device; productCode → tariff
    problems = []
    if not infos:
        problems.append((MISSING, "sectorInfos is empty", "Add each sector scanning Otipass cards to sectorInfos."))
    sectors = {s.code: s for s in Sector.objects.filter(organisation=org, code__in=list(infos))}
    doors = set(Door.objects.filter(sector__in=sectors.values()).values_list("sector__code", flat=True))
    devices = set(Device.objects.filter(door__sector__in=sectors.values(), status=DeviceStatus.ACTIVE)
                  .values_list("door__sector__code", flat=True))
    for code in infos:
        sector = sectors.get(code)
        if sector is None:
            problems.append((WRONG, f"sector {code} does not exist", "Create it in Access › Sectors."))
        elif sector.interface_id != interface.pk:
            problems.append((WRONG, f"sector {code} is not served by this interface",
                             "Save this interface again (saving links its sectors)."))
        elif code not in doors:
            problems.append((MISSING, f"sector {code} has no door", f"Add a door to {code} in Access › Doors."))
        elif code not in devices:
            problems.append((MISSING, f"sector {code} has no enrolled device",
                             f"Add a device to a door of {code} in Access › Devices and enrol it."))
    tariff_map = params.get("tariffMapping") or {}
    for season_code, product_code in keys:
        product = products.get((season_code, product_code))
        tariff_code = tariff_map.get(product_code)
        if tariff_code is None and product and Tariff.objects.filter(product=product).count() == 1:
            continue  # its only tariff is the one its entries are sold at
        if tariff_code is None:
            problems.append((MISSING, f"no tariff is mapped for {product_code}",
                             f'Add "tariffMapping": {{"{product_code}": "TARIFF CODE"}} to the parameters.'))
        elif product and not Tariff.objects.filter(product=product, code=tariff_code).exists():
            problems.append((WRONG, f"tariff {tariff_code} is not a tariff of {product_code}",
                             f"Create tariff {tariff_code} on {product_code} or map another one."))
    checks.append(_worst(problems, 7, "Mapping of sectors and tariffs",
                         f"{len(infos)} sector(s) served: " + ", ".join(sorted(infos))))
    return checks
