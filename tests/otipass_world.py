"""The catalogue and places seed 001's example mapping names (sectors DDMM_AUG, DDMM_MSR,
DMM_DUP; season DDMM23; open pass PASSTOU with tariff ADULT), built through the services, so
that an Otipass mapping passes the checks at save."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from passgate.access import services as access
from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Product, Season, Tariff, Validity
from passgate.orgs.services import Actor

SECTORS = ("DDMM_AUG", "DDMM_MSR", "DMM_DUP")


@dataclass
class OtipassWorld:
    season: Season
    product: Product
    tariff: Tariff
    sectors: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)


def build_world(organisation, *, with_devices: bool = True) -> OtipassWorld:
    actor = Actor.system(organisation, "test")
    season = catalog.create(actor, Season, code="DDMM23", name="Toulouse 2023")
    product = catalog.create(actor, Product, season=season, code="PASSTOU", name="Pass Toulouse",
                             family=Family.OPEN_PASS, validity=Validity.FROM_FIRST_CONTROL, validity_hours=48)
    tariff = catalog.create(actor, Tariff, product=product, code="ADULT", name="Adult", price=Decimal("0"))
    world = OtipassWorld(season, product, tariff)
    for code in SECTORS:
        sector = access.create_sector(actor, code, code.title())
        world.sectors[code] = sector
        if with_devices:
            door = access.create_door(actor, sector, f"{code}-1", f"{code} door")
            device, enrolment = access.create_device(actor, door, f"{code}-SCANNER")
            access.enrol_device(enrolment)
            world.devices[code] = device
    return world


@pytest.fixture
def otipass_world(org) -> OtipassWorld:
    return build_world(org)
