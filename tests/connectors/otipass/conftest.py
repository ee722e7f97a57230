"""An Otipass partner over real HTTP (the sandbox on loopback, project `toulouse`) and a venue whose
sector MAIN is mapped to it: service S-MAIN, season S26, product PASS (an open pass)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from passgate.access import cache
from passgate.access import services as access
from passgate.jobs import services as jobs
from passgate.jobs.models import Interface
from sandboxes.otipass.app import luhn_check_digit
from tests.access.conftest import Venue

PROJECT, USER, KEY = "toulouse", "tls-user", "tls-key-0001"
SERVICE, OTHER_SERVICE = "S-MAIN", "S-ELSEWHERE"


def numeric(payload: str) -> str:
    return payload + luhn_check_digit(payload)


ACTIVE = numeric("825000000001")
ACTIVE_2 = numeric("825000000002")
ACTIVE_3 = numeric("825000000003")
EXPIRED = numeric("825000000012")
BLOCKED = numeric("825000000014")
ELSEWHERE = numeric("825000000020")  # includes another site only
UNKNOWN = numeric("825000000099")  # Luhn-valid, unknown to Otipass


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def project_seed() -> dict:
    return {"projects": {PROJECT: {
        "username": USER, "password": KEY,
        "services": {SERVICE: {"pspaceId": f"PROVIDER#{SERVICE}"},
                     OTHER_SERVICE: {"pspaceId": f"PROVIDER#{OTHER_SERVICE}"}},
        "passes": [
            {"number": ACTIVE, "productRef": "PASS48", "validityHours": 48},
            {"number": ACTIVE_2, "productRef": "PASS48", "validityHours": 48},
            {"number": ACTIVE_3, "productRef": "PASS24", "validityHours": 24},
            {"number": EXPIRED, "state": "EXPIRED", "productRef": "PASS48"},
            {"number": BLOCKED, "state": "BLOCKED", "productRef": "PASS48"},
            {"number": ELSEWHERE, "productRef": "PASS48", "includedServices": [OTHER_SERVICE]},
        ]}}}


def parameters(**extra) -> dict:
    return {"NumType": "numeric",
            "sectorInfos": {"MAIN": {"OtipassServiceId": SERVICE, "OtipassPSpaceId": f"PROVIDER#{SERVICE}",
                                     "seasonCode": "S26", "productCode": "PASS"}},
            "tariffMapping": {"PASS48": "ADULT"}, **extra}


class Otipass:
    def __init__(self, handle, venue: Venue, interface: Interface) -> None:
        self.handle = handle
        self.venue = venue
        self.interface = interface

    def usages(self, number: str | None = None) -> list[dict]:
        usages = self.handle.state()["data"]["projects"][PROJECT]["usages"]
        return [u for u in usages if number is None or u["number"] == number]

    def posted(self) -> int:
        return len(self.handle.requests(f"/api/{PROJECT}/v1/usages"))

    def set_parameters(self, **extra) -> None:
        """Written as stored (doorTimeoutSeconds joins the schema with the setup assistant's work)."""
        Interface.objects.filter(pk=self.interface.pk).update(parameters={"OtipassProjectId": PROJECT,
                                                                          **parameters(**extra)})
        self.interface.refresh_from_db()
        cache.clear()


@pytest.fixture
def otipass_sandbox(sandbox):
    handle = sandbox("otipass")
    handle.seed(**project_seed())
    return handle


@pytest.fixture
def otipass(otipass_sandbox, catalogue):
    venue = Venue(catalogue)
    interface = jobs.create_interface(venue.actor, type="OTIPASS", name="Otipass Toulouse",
                                      url=f"{otipass_sandbox.url}/api/{PROJECT}", username=USER, secret=KEY,
                                      parameters_text=json.dumps(parameters()))
    venue.sector = access.update_sector(venue.actor, venue.sector, interface=interface)
    venue.device.door.sector.refresh_from_db()
    venue.device2.door.sector.refresh_from_db()
    return Otipass(otipass_sandbox, venue, interface)
