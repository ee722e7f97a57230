"""Fixtures the template and operator-view tests share: the TIXnGO sandbox on loopback (real HTTP),
the wallet's printing channel and point of sale, and a TIXNGO_TEMPLATE interface pointing at it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, PointOfSale, SalesChannel
from passgate.jobs import services
from passgate.sales import services as sales

KEY = "tixngo-ops-key"
TEMPLATES = {
    "eventName": "{{ product.name }} · {{ performance.date }} {{ performance.time }}",
    "sortingKey": "{{ order.file_number }}/{{ '%05d' % ticket.id }}",
    "additionalInfo": "Seat {{ ticket.seat or 'free' }}\nFor {{ holder.first_name }} {{ holder.last_name }}",
}


def template_params(templates: dict[str, str] | None = None, iteration: int = 1000) -> str:
    import json

    return json.dumps({"salesChannel": "WALLET", "pointOfSale": "WALLETPOS", "ticketIterationSize": iteration,
                       "templates": TEMPLATES if templates is None else templates}, indent=2)


@pytest.fixture(autouse=True)
def _fast_jobs():
    with override_settings(JOBS_LEASE_SECONDS=30, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


@pytest.fixture
def tix(sandbox):
    handle = sandbox("tixngo")
    handle.seed(api_key=KEY, deletion_delay_s=0, tx_confirm_s=0)
    return handle


@pytest.fixture
def printing(admin_actor, catalogue):
    channel = catalog.create(admin_actor, SalesChannel, code="WALLET", name="TIXnGO wallet",
                             type=ChannelType.EXTERNAL_PRINTING)
    return catalog.create(admin_actor, PointOfSale, channel=channel, code="WALLETPOS", name="Wallet printing")


@pytest.fixture
def template_interface(admin_actor, tix, printing):
    return services.create_interface(admin_actor, type="TIXNGO_TEMPLATE", name="TIXnGO", username="o@example.org",
                                     url=tix.url + "/organizer/tickets", secret=KEY,
                                     parameters_text=template_params())


@pytest.fixture
def buyer(admin_actor):
    return sales.create_contact(admin_actor, first_name="Ada", last_name="Lovelace", email="ada@example.org",
                                country_code="FR")
