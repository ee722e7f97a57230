from __future__ import annotations

from decimal import Decimal

from passgate.access.models import Device, Sector
from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Product, Season, Tariff
from passgate.connectors.otipass.demo import DEMO_KEY, load_demo
from passgate.connectors.otipass.readiness import readiness
from passgate.jobs import services as jobs
from passgate.jobs.models import Interface
from passgate.orgs.models import AuditEntry


def test_the_demo_runs_the_assistant_against_the_demo_project_once(admin_actor):
    season = catalog.create(admin_actor, Season, code="S2026", name="Season")
    product = catalog.create(admin_actor, Product, season=season, code="PASSTOU", name="City pass",
                             family=Family.OPEN_PASS)
    catalog.create(admin_actor, Tariff, product=product, code="ADULT", name="Adult", price=Decimal("39"))
    load_demo(admin_actor.organisation, admin_actor)
    interface = Interface.objects.get(type="OTIPASS")
    assert interface.url == "http://127.0.0.1:8102/api" and interface.parameters["OtipassProjectId"] == "demo"
    assert jobs.interface_secret(interface) == DEMO_KEY and interface.username == "demo"
    assert interface.parameters["sectorInfos"]["DMM_DUP"]["OtipassServiceId"] == "PCUMID031FS0006E"
    assert all(c.ok for c in readiness(interface)), [c for c in readiness(interface) if not c.ok]
    audit = AuditEntry.objects.count()
    load_demo(admin_actor.organisation, admin_actor)
    assert AuditEntry.objects.count() == audit  # nothing written the second time
    assert Sector.objects.filter(interface=interface).count() == 3 and Device.objects.count() == 3
