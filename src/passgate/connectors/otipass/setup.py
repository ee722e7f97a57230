"""The Otipass setup assistant: seed 001's seven manual steps as one idempotent action, through
the rooms' services (run from the back office and as `passgate otipass setup`).

It creates what is missing and repairs what the seed says must be so; it never overwrites
what an operator may have chosen knowingly. Run twice, it leaves one of everything:
- season, open-pass product, tariff: created when missing; an existing product that is not an
  open pass is an error (its sales would be wrong), its name and the tariff's price are kept;
- channel OTIPASS: created; an existing one of another type is set to External sales (STX file)
  (the seed requires it); its name is kept;
- its contingent of the product: created with the quota asked; a contingent with quota 0 gets
  that quota; a positive quota is kept (an operator raised or lowered it);
- the contact: created; PENDING_ACCOUNT is added to its payment modes, the others are kept;
- the interface: created; then URL, user name and the named sectors' entries follow the
  arguments, a blank key keeps the stored one, the other sectors, NumType, tariffMapping and
  doorTimeoutSeconds the operator set are kept. The parameters text is rewritten (comments
  dropped) only when something in it changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, Contingent, Family, Product, SalesChannel, Season, Tariff
from passgate.errors import InvalidInput
from passgate.jobs import services as jobs
from passgate.jobs.models import Interface
from passgate.sales import services as sales
from passgate.sales.models import Contact, PaymentMode

from .interface import DEFAULT_CONTACT
from .readiness import CHANNEL_CODE

TYPE = "OTIPASS"


@dataclass(frozen=True)
class SectorService:
    """One sector scanning Otipass cards and the Otipass service (partner site) it is."""

    code: str
    service_id: str
    pspace_id: str = ""  # empty: PROVIDER#<service id in capitals>, Otipass's usual form
    season_code: str = ""  # empty: the assistant's season
    product_code: str = ""  # empty: the assistant's product

    def info(self, season_code: str, product_code: str) -> dict[str, str]:
        return {"OtipassServiceId": self.service_id,
                "OtipassPSpaceId": self.pspace_id or f"PROVIDER#{self.service_id.upper()}",
                "seasonCode": self.season_code or season_code, "productCode": self.product_code or product_code}


@dataclass
class SetupReport:
    interface: Interface | None = None
    steps: list[str] = field(default_factory=list)

    def note(self, verb: str, what: str) -> None:
        self.steps.append(f"{verb} {what}")

    @property
    def changed(self) -> bool:
        return any(not s.startswith("kept") for s in self.steps)


def parse_sector(text: str) -> SectorService:
    """`CODE=SERVICEID` or `CODE=SERVICEID=PROVIDER#PSPACE` (the CLI's --sector)."""
    parts = [p.strip() for p in (text or "").split("=")]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput("a sector is given as CODE=SERVICEID or CODE=SERVICEID=PSPACEID", field="sector",
                           expected="e.g. MUSEUM=PCUMID031FS00061", found=text)
    return SectorService(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def _open_pass(actor, report: SetupReport, season_code: str, product_code: str, product_name: str,
               tariff_code: str, tariff_price: Decimal) -> Product:
    org = actor.organisation
    season = Season.objects.filter(organisation=org, code=season_code).first()
    if season is None:
        season = catalog.create(actor, Season, code=season_code, name=season_code)
        report.note("created", f"season {season_code}")
    product = Product.objects.filter(organisation=org, season=season, code=product_code).first()
    if product is None:
        product = catalog.create(actor, Product, season=season, code=product_code, name=product_name,
                                 family=Family.OPEN_PASS)
        report.note("created", f"open pass {product_code} ({season_code})")
    elif product.family != Family.OPEN_PASS:
        raise InvalidInput("this product exists and is not an open pass; an Otipass card is controlled several "
                           "times, so its entries need an Open pass product", field="product_code",
                           expected=f"a new product code, or an OPEN_PASS product of {season_code}",
                           found=f"{product_code} ({product.family})")
    else:
        report.note("kept", f"open pass {product_code} ({season_code})")
    if not Tariff.objects.filter(product=product, code=tariff_code).exists():
        catalog.create(actor, Tariff, product=product, code=tariff_code, name=f"Otipass entrance ({tariff_code})",
                       price=tariff_price)
        report.note("created", f"tariff {tariff_code} of {product_code}")
    return product


def _channel(actor, report: SetupReport) -> SalesChannel:
    channel = SalesChannel.objects.filter(organisation=actor.organisation, code=CHANNEL_CODE).first()
    if channel is None:
        channel = catalog.create(actor, SalesChannel, code=CHANNEL_CODE, name="Otipass",
                                 type=ChannelType.EXTERNAL_STX_FILE)
        report.note("created", "sales channel OTIPASS (External sales, STX file)")
    elif channel.type != ChannelType.EXTERNAL_STX_FILE:
        before = channel.type
        channel = catalog.update(actor, channel, type=ChannelType.EXTERNAL_STX_FILE)
        report.note("repaired", f"sales channel OTIPASS: type {before} → EXTERNAL_STX_FILE")
    else:
        report.note("kept", "sales channel OTIPASS")
    return channel


def _contingent(actor, report: SetupReport, channel: SalesChannel, product: Product, quota: int) -> Contingent:
    org = actor.organisation
    contingent = Contingent.objects.filter(organisation=org, channel=channel, product=product,
                                           performance__isnull=True).first()
    if contingent is None:
        code = CHANNEL_CODE if not Contingent.objects.filter(organisation=org, code=CHANNEL_CODE).exists() \
            else f"{CHANNEL_CODE}-{product.code}"[:40]
        contingent = catalog.create(actor, Contingent, code=code, name=f"Otipass entrances to {product.code}",
                                    channel=channel, product=product, quota=quota)
        report.note("created", f"contingent {code} of {product.code}, quota {quota}")
    elif contingent.quota == 0:
        contingent = catalog.update(actor, contingent, quota=quota)
        report.note("repaired", f"contingent {contingent.code}: quota 0 → {quota}")
    else:
        report.note("kept", f"contingent {contingent.code} (quota {contingent.quota})")
    return contingent


def _contact(actor, report: SetupReport, number: str) -> Contact:
    contact = Contact.objects.filter(organisation=actor.organisation, number=number).first()
    if contact is None:
        contact = sales.create_contact(actor, number=number, last_name="Otipass",
                                       payment_modes=[PaymentMode.PENDING_ACCOUNT])
        report.note("created", f"contact {number} paying by pending account")
    elif PaymentMode.PENDING_ACCOUNT not in (contact.payment_modes or []):
        contact = sales.update_contact(actor, contact,
                                       payment_modes=[*(contact.payment_modes or []), PaymentMode.PENDING_ACCOUNT])
        report.note("repaired", f"contact {number}: pending account allowed")
    else:
        report.note("kept", f"contact {number}")
    return contact


def _find_interface(organisation, name: str) -> Interface | None:
    mine = Interface.objects.filter(organisation=organisation, type=TYPE)
    named = mine.filter(name=name).first()
    if named is not None:
        return named
    return mine.first() if mine.count() == 1 else None


def setup_otipass(actor, *, url: str, username: str, secret: str = "", sectors: list[SectorService],
                  season_code: str, product_code: str = "OTIPASS", product_name: str = "Otipass city pass",
                  tariff_code: str = "OTIPASS", tariff_price: Decimal = Decimal("0"), quota: int = 1000,
                  num_type: str | None = None, interface_name: str = "Otipass",
                  contact_number: str = DEFAULT_CONTACT) -> SetupReport:
    """Create or repair everything an Otipass interface needs; see the module's docstring."""
    if not sectors:
        raise InvalidInput("name at least one sector and its Otipass service", field="sector",
                           expected="CODE=SERVICEID", found="none")
    if quota < 1:
        raise InvalidInput("the contingent needs a quota", field="quota", expected="1 or more", found=quota)
    report = SetupReport()
    with transaction.atomic():
        infos = {s.code: s.info(season_code, product_code) for s in sectors}
        channel = _channel(actor, report)
        for season, product in sorted({(i["seasonCode"], i["productCode"]) for i in infos.values()}):
            name = product_name if product == product_code else product
            pass_product = _open_pass(actor, report, season, product, name, tariff_code, tariff_price)
            _contingent(actor, report, channel, pass_product, quota)
        _contact(actor, report, contact_number)
        report.interface = _interface(actor, report, url=url, username=username, secret=secret, infos=infos,
                                      num_type=num_type, name=interface_name, tariff_code=tariff_code,
                                      contact_number=contact_number)
    return report


def _interface(actor, report: SetupReport, *, url: str, username: str, secret: str, infos: dict[str, Any],
               num_type: str | None, name: str, tariff_code: str, contact_number: str) -> Interface:
    interface = _find_interface(actor.organisation, name)
    params: dict[str, Any] = dict(interface.parameters) if interface else {}
    if url.rstrip("/").rsplit("/", 1)[-1] != "api":
        params.pop("OtipassProjectId", None)  # the URL carries it: the URL rule writes it back in
    params["sectorInfos"] = {**(params.get("sectorInfos") or {}), **infos}
    if num_type or "NumType" not in params:
        params["NumType"] = num_type or "numeric"
    tariffs = dict(params.get("tariffMapping") or {})
    for info in infos.values():
        tariffs.setdefault(info["productCode"], tariff_code)
    params["tariffMapping"] = tariffs
    if contact_number != DEFAULT_CONTACT or "contactNumber" in params:
        params["contactNumber"] = contact_number
    text = json.dumps(params, indent=2, ensure_ascii=False)
    if interface is None:
        interface = jobs.create_interface(actor, type=TYPE, name=name, url=url, username=username, secret=secret,
                                          parameters_text=text)
        report.note("created", f"interface {name} mapping {', '.join(sorted(infos))}")
        return interface
    norm_url, norm_params, _group = jobs.prepare_interface(TYPE, url, text)
    if secret and secret == jobs.interface_secret(interface):
        secret = ""  # the same key again: nothing to change
    if norm_url == interface.url and norm_params == interface.parameters and username == interface.username \
            and not secret:
        report.note("kept", f"interface {interface.name}")
        return interface
    changes: dict[str, Any] = {"url": url, "username": username}
    if norm_params != interface.parameters:
        changes["parameters_text"] = text
    interface = jobs.update_interface(actor, interface, secret=secret or None, **changes)
    report.note("repaired", f"interface {interface.name} (" + ", ".join(
        [*changes, *(["API key"] if secret else [])]) + ")")
    return interface


def repair(actor, interface: Interface) -> list[str]:
    """The back office's "Set up / repair": the assistant run from what the interface maps already."""
    params = interface.parameters or {}
    infos: dict[str, dict] = params.get("sectorInfos") or {}
    if not infos:
        raise InvalidInput("map at least one sector first (sectorInfos), then run the assistant", field="parameters",
                           expected="sectorInfos with one sector", found="no sector")
    sectors = [SectorService(code, i["OtipassServiceId"], i["OtipassPSpaceId"], i["seasonCode"], i["productCode"])
               for code, i in infos.items()]
    first = next(iter(infos.values()))
    tariffs = params.get("tariffMapping") or {}
    report = setup_otipass(actor, url=f"{interface.url}/{params.get('OtipassProjectId', '')}",
                           username=interface.username, sectors=sectors, season_code=first["seasonCode"],
                           product_code=first["productCode"], tariff_code=tariffs.get(first["productCode"], "OTIPASS"),
                           interface_name=interface.name,
                           contact_number=params.get("contactNumber") or DEFAULT_CONTACT)
    return report.steps
