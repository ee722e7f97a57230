"""Demo data for access control (called by `passgate demo-data`, idempotent)."""

from __future__ import annotations

from passgate.catalog.models import Product

from . import services
from .models import Device, Sector

SECTORS = [
    # code, name, re-entry, products admitted, doors
    ("HALL", "Grand Hall", True, ["SYMPHONY"], ["HALL-A", "HALL-B"]),
    ("STADIUM", "Stadium", False, ["DERBY"], ["GATE-1"]),
    ("MUSEUM", "Museum", False, ["MUSEUM", "PASSTOU", "FRIENDS", "SEASONCARD"], ["MUSEUM-1"]),
    ("PARKING", "Car park", True, ["PARKING", "SEASONCARD"], ["PARK-1"]),
]


def load_demo(organisation, actor) -> None:
    if Sector.objects.filter(organisation=organisation, code="HALL").exists():
        return
    products = {p.code: p for p in Product.objects.filter(organisation=organisation)}
    for code, name, reentry, admitted, doors in SECTORS:
        sector = services.create_sector(actor, code, name, reentry_allowed=reentry)
        for product_code in admitted:
            if product_code in products:
                services.add_rule(actor, sector, products[product_code])
        for door_code in doors:
            door = services.create_door(actor, sector, door_code, door_code.replace("-", " ").title())
            device, code_ = services.create_device(actor, door, f"{door_code}-SCANNER")
            services.enrol_device(code_)  # the demo uses `passgate door-sim --device NAME`
    assert Device.objects.filter(organisation=organisation).exists()
