"""Fixtures of the sales tests: an external sales channel with its contingent and a partner contact
paying by pending account."""

from __future__ import annotations

import pytest

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, Contingent, SalesChannel
from passgate.sales import services as sales
from passgate.sales.models import PaymentMode


class ExternalSetup:
    def __init__(self, catalogue, quota: int = 5, code: str = "OTIPASS") -> None:
        actor = catalogue.actor
        self.catalogue = catalogue
        self.channel = catalog.create(actor, SalesChannel, code=code, name="Otipass",
                                      type=ChannelType.EXTERNAL_STX_FILE)
        self.contingent = catalog.create(actor, Contingent, code=f"{code}Q", name="Otipass quota",
                                         channel=self.channel, product=catalogue.pass_product, quota=quota)
        self.contact = sales.create_contact(actor, number=code, last_name="Otipass",
                                            payment_modes=[PaymentMode.PENDING_ACCOUNT])


@pytest.fixture
def external(catalogue):
    return ExternalSetup(catalogue)


class OtipassControls:
    """Granted Otipass controls recorded the way the door records them (agreement with
    otipass-door): access Scan rows with connector OTIPASS, recorded barcode OTI + card + time,
    product = the sector's mapped product, the partner's facts in the answer's `ticket`."""

    def __init__(self, catalogue, sector_code: str = "MUSEUM") -> None:
        from passgate.access.models import Device, DeviceStatus, Door, Sector

        org = catalogue.actor.organisation
        self.catalogue = catalogue
        self.sector = Sector.objects.create(organisation=org, code=sector_code, name="Museum")
        self.door = Door.objects.create(organisation=org, sector=self.sector, code=f"{sector_code}-D1",
                                        name="Main door")
        self.device = Device.objects.create(organisation=org, door=self.door, name="Scanner 1",
                                            status=DeviceStatus.ACTIVE)
        self.count = 0

    def granted(self, card: str | None = None, at=None, pass_product: str = "PASS48", sector=None, **fields):
        import uuid

        from django.utils import timezone

        from passgate.access.models import Decision, Scan

        self.count += 1
        card = card or f"{4970000000 + self.count}"
        at = at or timezone.now()
        recorded = f"OTI{card}{at:%Y%m%d%H%M%S}"
        info = {"card": card, "season": self.catalogue.season.code, "product": self.catalogue.pass_product.code,
                "pass_product": pass_product, "service": "SVC-1"}
        values = dict(
            organisation=self.sector.organisation, device=self.device, door=self.door, sector=sector or self.sector,
            product=self.catalogue.pass_product, barcode=card, recorded_barcode=recorded, nonce=uuid.uuid4().hex,
            decision=Decision.GRANTED, operation="OK", scanned_at=at, received_at=at, connector="OTIPASS",
            response={"decision": "GRANTED", "barcode": card, "ticket": info})
        values.update(fields)
        return Scan.objects.create(**values)


@pytest.fixture
def otipass_controls(catalogue):
    return OtipassControls(catalogue)


def otipass_parameters(catalogue, sector_code: str = "MUSEUM", tariff_mapping: dict | None = None) -> str:
    import json

    return json.dumps({
        "OtipassProjectId": "demo", "NumType": "numeric",
        "sectorInfos": {sector_code: {"OtipassServiceId": "SVC-1", "OtipassPSpaceId": "PROVIDER#12",
                                      "seasonCode": catalogue.season.code,
                                      "productCode": catalogue.pass_product.code}},
        "tariffMapping": {"PASS48": "ADULT"} if tariff_mapping is None else tariff_mapping})


@pytest.fixture
def reintegration(catalogue, external, otipass_controls):
    """An Otipass interface and its OTIPASS_SALES_REINTEGRATION schedule."""
    from passgate.jobs import services as jobs

    interface = jobs.create_interface(catalogue.actor, type="OTIPASS", name="Otipass",
                                      url="http://127.0.0.1:9/api/demo", username="site", secret="otipass-key",
                                      parameters_text=otipass_parameters(catalogue))
    return jobs.create_schedule(catalogue.actor, interface=interface, function="OTIPASS_SALES_REINTEGRATION")
