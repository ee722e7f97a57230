"""Shared fixtures: an organisation with a small catalogue, actors of each
role, API clients with bearer tokens. Tests run on SQLite by default and on
PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from django.test import Client
from django.utils import timezone
from hypothesis import settings

from passgate.catalog import services as catalog
from passgate.catalog.models import (
    Category,
    ChannelType,
    Family,
    Performance,
    PointOfSale,
    Product,
    SalesChannel,
    Season,
    Tariff,
    Validity,
)
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, create_organisation, issue_api_token
from passgate.sales import services as sales

pytest_plugins = ["sandboxes.pytest_plugin", "tests.mail_sink"]

# On CI the property tests replay the same examples every run, so a red build can be
# reproduced and a green one is not luck; locally they explore new examples each run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="needs PostgreSQL (set DATABASE_URL)"
)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


class Catalogue:
    """A small catalogue for one organisation, built through the services."""

    def __init__(self, actor: Actor, prefix: str = "") -> None:
        self.actor = actor
        now = timezone.now()
        self.season = catalog.create(actor, Season, code=f"{prefix}S26", name="Season 2026")
        self.concert = catalog.create(actor, Product, season=self.season, code=f"{prefix}CONCERT",
                                      name="Concert", family=Family.EVENT)
        self.performance = catalog.create(
            actor, Performance, product=self.concert, code=f"{prefix}P1", name="Opening night",
            starts_at=now + dt.timedelta(days=7), ends_at=now + dt.timedelta(days=7, hours=3),
            doors_open_at=now + dt.timedelta(days=7, hours=-1), venue_site="Grand Hall", venue_city="Toulouse",
            venue_country_code="FR", venue_zip="31000")
        self.full_price = catalog.create(actor, Tariff, product=self.concert, code="FULL", name="Full price",
                                         price=Decimal("30.00"))
        self.category = catalog.create(actor, Category, product=self.concert, code="CAT1", name="Stalls")
        self.pass_product = catalog.create(
            actor, Product, season=self.season, code=f"{prefix}PASS", name="City pass 48h", family=Family.OPEN_PASS,
            validity=Validity.FROM_FIRST_CONTROL, validity_hours=48)
        self.pass_tariff = catalog.create(actor, Tariff, product=self.pass_product, code="ADULT", name="Adult",
                                          price=Decimal("45.00"))
        self.box_office = catalog.create(actor, SalesChannel, code=f"{prefix}BOX", name="Box office",
                                         type=ChannelType.INTERNAL)
        self.desk = catalog.create(actor, PointOfSale, channel=self.box_office, code=f"{prefix}DESK1",
                                   name="Desk 1")

    def sell_concert(self, quantity: int = 1, buyer=None, **kwargs) -> sales.Order:
        line = sales.SaleLine(product=self.concert, tariff=self.full_price, performance=self.performance,
                              category=self.category, quantity=quantity)
        return sales.sell(self.actor, sales.SaleRequest(channel=self.box_office, lines=[line], buyer=buyer,
                                                        point_of_sale=self.desk, **kwargs))

    def sell_pass(self, quantity: int = 1, **kwargs) -> sales.Order:
        line = sales.SaleLine(product=self.pass_product, tariff=self.pass_tariff, quantity=quantity)
        return sales.sell(self.actor, sales.SaleRequest(channel=self.box_office, lines=[line], **kwargs))


@pytest.fixture
def org(db):
    return create_organisation("demo", "Demo Theatre", "Europe/Paris", "EUR")


@pytest.fixture
def other_org(db):
    return create_organisation("other", "Other Venue", "Europe/Zurich", "CHF")


@pytest.fixture
def admin_actor(org):
    return Actor.system(org, "test-admin")


@pytest.fixture
def catalogue(admin_actor):
    return Catalogue(admin_actor)


@pytest.fixture
def other_catalogue(other_org):
    return Catalogue(Actor.system(other_org, "other-admin"), prefix="O")


def bearer_client(actor: Actor, role: str = Role.ADMINISTRATOR, name: str = "test") -> Client:
    _, plaintext = issue_api_token(actor, name, role)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def api_client(admin_actor):
    return bearer_client(admin_actor)


@pytest.fixture
def other_api_client(other_org):
    return bearer_client(Actor.system(other_org, "other-admin"), name="other")


@pytest.fixture
def same_connection():
    """Requests go through the plain WSGI handler inside the test transaction: keep Django
    from closing the connection at the end of each request (the test Client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
