"""TIXnGO fixtures: the tixngo sandbox on loopback (real HTTP), a TIXNGO interface pointing at it
with its printing channel and point of sale, and helpers to make schedules and run them."""

from __future__ import annotations

import httpx
import pytest
from django.test import override_settings

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, PointOfSale, SalesChannel
from passgate.connectors.tixngo.models import WalletTicket
from passgate.jobs import services
from passgate.jobs.runner import run_schedule
from passgate.sales import services as sales

TIX_KEY = "tixngo-api-key-s3cret"
INTERFACE_PARAMS = '{"salesChannel": "WALLET", "pointOfSale": "WALLETPOS", "ticketIterationSize": 2}'


@pytest.fixture(autouse=True)
def _fast_jobs():
    with override_settings(JOBS_LEASE_SECONDS=30, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


class Tix:
    """The sandbox seen from a test: its control endpoints and its partner API (with the key)."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.url = handle.url
        self.api = httpx.Client(base_url=handle.url + "/organizer", headers={"X-Api-Key": TIX_KEY}, timeout=10)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def data(self) -> dict:
        return self.handle.state()["data"]

    def wallet(self, ticket) -> dict:
        return self.data()["tickets"][str(ticket.pk)]

    def log(self) -> list[dict]:
        return self.api.get("/report/ticket-status-logs", params={"limit": 10000}).json()["logs"]

    def injected_ids(self) -> list[str]:
        """Ticket ids in the order TIXnGO logged their injection."""
        return [e["ticketId"] for e in self.log() if e["action"] == "INJECT" and e["txState"] == "PENDING"]

    def calls(self, path: str) -> list[dict]:
        return [r for r in self.handle.requests() if r["path"] == path]


@pytest.fixture
def tix(sandbox):
    handle = sandbox("tixngo")
    handle.seed(api_key=TIX_KEY, deletion_delay_s=0, tx_confirm_s=0)
    tix = Tix(handle)
    yield tix
    tix.api.close()


@pytest.fixture
def printing(admin_actor, catalogue):
    channel = catalog.create(admin_actor, SalesChannel, code="WALLET", name="TIXnGO wallet",
                             type=ChannelType.EXTERNAL_PRINTING)
    return catalog.create(admin_actor, PointOfSale, channel=channel, code="WALLETPOS", name="Wallet printing")


@pytest.fixture
def tix_interface(admin_actor, tix, printing):
    return services.create_interface(admin_actor, type="TIXNGO", name="TIXnGO", url=tix.url + "/organizer/tickets",
                                     username="organiser@example.org", secret=TIX_KEY,
                                     parameters_text=INTERFACE_PARAMS, notify_emails="ops@example.org")


@pytest.fixture
def schedule(admin_actor, tix_interface):
    def make(function: str, parameters_text: str = "", **fields):
        return services.create_schedule(admin_actor, interface=tix_interface, function=function,
                                        name=f"{function}-{fields.pop('suffix', '')}",
                                        parameters_text=parameters_text, **fields)
    return make


@pytest.fixture
def buyer(admin_actor):
    return sales.create_contact(admin_actor, first_name="Ada", last_name="Lovelace", email="ada@example.org",
                                country_code="FR")


def run(schedule):
    return run_schedule(schedule.pk)


def wallet_status(ticket) -> str | None:
    row = WalletTicket.objects.filter(ticket=ticket).first()
    return row.wallet_status if row else None
