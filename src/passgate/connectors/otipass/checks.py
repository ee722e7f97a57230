"""The checks an Otipass mapping passes at every save (admin, API, CLI), against the
organisation's data: seed 001's "common problems" become errors naming the key, its line in
the pasted JSON, what was expected and what was found. The syntax traps (comments, a sector
code typed twice) are the strict parser's (jobs.params); the URL split is interface.py's.

Two traps of the seed cannot be expressed in passgate at all: a door belongs to exactly one
sector (Door.sector) and a device to exactly one door (Device.door), both non-null foreign
keys; a mapped sector with no door or no device yet is shown by the readiness checklist."""

from __future__ import annotations

from typing import Any

from passgate.catalog.models import Family, Product, Season, Tariff
from passgate.errors import InvalidInput
from passgate.jobs.params import Path, json_path

FIELD = "parameters"


class Problems:
    """Every problem of one mapping, raised together (the operator fixes them in one go)."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self.lines = lines
        self.details: list[dict[str, Any]] = []

    def add(self, path: Path, message: str, expected: str, found: str) -> None:
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            probe = probe[:-1]
            line = self.lines.get(probe)
        where = f" (line {line})" if line else ""
        full = f"{json_path(path)}{where}: {message}; expected {expected}, found {found}"
        self.details.append({"code": "invalid", "field": FIELD, "path": json_path(path), "line": line,
                             "message": full, "expected": expected, "found": found})

    def raise_if_any(self) -> None:
        if self.details:
            first = self.details[0]
            error = InvalidInput(first["message"], field=FIELD, expected=first["expected"], found=first["found"])
            error.details = self.details
            raise error


def _listing(codes, limit: int = 8) -> str:
    codes = sorted(codes)
    if not codes:
        return "(none yet)"
    return ", ".join(codes[:limit]) + (" …" if len(codes) > limit else "")


def check_mapping(organisation, parameters: dict[str, Any], lines: dict[Path, int],
                  interface_pk: int | None = None) -> None:
    from passgate.access.models import Sector

    problems = Problems(lines)
    infos: dict[str, dict[str, Any]] = parameters.get("sectorInfos") or {}
    sectors = {s.code: s for s in Sector.objects.filter(organisation=organisation)
               .select_related("interface").only("code", "interface__name", "interface_id")}
    seasons = {s.code: s for s in Season.objects.filter(organisation=organisation,
                                                        code__in={i["seasonCode"] for i in infos.values()})}
    products = {(p.season.code, p.code): p for p in Product.objects.filter(
        organisation=organisation, code__in={i["productCode"] for i in infos.values()}).select_related("season")}

    for code, info in infos.items():
        here: Path = ("sectorInfos", code)
        sector = sectors.get(code)
        if sector is None:
            problems.add(here, f'no sector has the code "{code}" in this organisation',
                         f"a sector code of the organisation ({_listing(sectors)})", f'"{code}"')
        elif sector.interface_id is not None and sector.interface_id != interface_pk:
            problems.add(here, f'the sector "{code}" is served by another interface already (one sector, '
                         "one interface): remove it from that interface's sectorInfos first",
                         "a sector not served by another interface", f"served by {sector.interface.name}")
        season_code, product_code = info["seasonCode"], info["productCode"]
        if season_code not in seasons:
            problems.add(here + ("seasonCode",), f'no season has the code "{season_code}"',
                         "the code of one of the organisation's seasons "
                         f"({_listing(Season.objects.filter(organisation=organisation).values_list('code', flat=True))})",
                         f'"{season_code}"')
            continue
        product = products.get((season_code, product_code))
        if product is None:
            in_season = Product.objects.filter(organisation=organisation, season=seasons[season_code],
                                               family=Family.OPEN_PASS).values_list("code", flat=True)
            problems.add(here + ("productCode",), f'no product "{product_code}" in season {season_code}',
                         f"an open pass of season {season_code} ({_listing(in_season)})", f'"{product_code}"')
        elif product.family != Family.OPEN_PASS:
            problems.add(here + ("productCode",), "an Otipass card can be controlled several times: its "
                         "product must be of the Open pass family", "an OPEN_PASS product",
                         f"{product_code} ({product.family})")

    # tariffMapping: productCode → the tariff entries are sold at. The key is either the partner's
    # product code of a pass (PASS48: a tariff every mapped product has) or a mapped productCode
    # (that product's default tariff).
    mapped = {(i["seasonCode"], i["productCode"]) for i in infos.values()}
    every = [products[key] for key in sorted(mapped) if key in products]
    for product_code, tariff_code in (parameters.get("tariffMapping") or {}).items():
        here = ("tariffMapping", product_code)
        targets = [product for product in every if product.code == product_code] or every
        for product in targets:
            tariffs = set(Tariff.objects.filter(product=product).values_list("code", flat=True))
            if tariff_code in tariffs:
                continue
            elsewhere = (Tariff.objects.filter(organisation=organisation, code=tariff_code)
                         .select_related("product").first())
            found = (f'"{tariff_code}", a tariff of {elsewhere.product.code}' if elsewhere
                     else f'"{tariff_code}", no such tariff')
            problems.add(here, f"the entries are sold at a tariff of {product.code} ({product.season.code})",
                         f"a tariff of {product.code} ({_listing(tariffs)})", found)
    problems.raise_if_any()


def serve_mapped_sectors(actor, interface) -> None:
    """Link every sector of the mapping to the interface; unlink those it no longer maps."""
    from passgate.access import services as access

    access.serve_sectors(actor, interface, sorted((interface.parameters or {}).get("sectorInfos") or {}))
