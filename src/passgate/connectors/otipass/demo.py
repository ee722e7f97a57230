"""Demo data for Otipass (called by passgate/demo.py, idempotent): the setup assistant run
against the demo sandbox's project (`passgate demo` starts it on 127.0.0.1:8102), with the
three partner sites of seed 001's example as sectors, each with a door and an enrolled scanner."""

from __future__ import annotations

from passgate.access import services as access
from passgate.access.models import Door, Sector

from .setup import SectorService, setup_otipass

# As sandboxes/otipass/app.py seeds its `demo` project (DEMO_* constants there).
DEMO_URL = "http://127.0.0.1:8102/api/demo"
DEMO_USERNAME = "demo"
DEMO_KEY = "otipass-demo-key"
DEMO_SITES = [  # sector code, name, Otipass service id
    ("DDMM_AUG", "Musée des Augustins", "PCUMID031FS00061"),
    ("DDMM_MSR", "Musée Saint-Raymond", "PCUMID031FS00071"),
    ("DMM_DUP", "Musée Paul-Dupuy", "PCUMID031FS0006E"),
]


def _site(actor, code: str, name: str) -> None:
    sector = Sector.objects.filter(organisation=actor.organisation, code=code).first() \
        or access.create_sector(actor, code, name)
    door_code = f"{code}-1"
    if not Door.objects.filter(organisation=actor.organisation, code=door_code).exists():
        door = access.create_door(actor, sector, door_code, f"{name} entrance")
        _device, enrolment = access.create_device(actor, door, f"{code}-SCANNER")
        access.enrol_device(enrolment)  # `passgate door-sim --device DDMM_AUG-SCANNER`


def load_demo(organisation, actor) -> None:
    for code, name, _service in DEMO_SITES:
        _site(actor, code, name)
    # The demo catalogue's city pass (S2026 / PASSTOU, tariff ADULT) is the Otipass open pass.
    setup_otipass(actor, url=DEMO_URL, username=DEMO_USERNAME, secret=DEMO_KEY,
                  sectors=[SectorService(code, service) for code, _name, service in DEMO_SITES],
                  season_code="S2026", product_code="PASSTOU", tariff_code="ADULT", quota=10000,
                  interface_name="Otipass (demo)")
