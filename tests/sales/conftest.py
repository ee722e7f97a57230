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
