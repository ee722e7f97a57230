"""The demo organisation: a season with products of every family, performances
over the coming weeks, tariffs, categories, channels, contacts and a thousand
sold tickets in mixed states. Built through the services (so it is validated and
audited like any real data) and idempotent: loading it twice changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import random
import unicodedata
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from passgate.access.models import Device
from passgate.access.services.inputs import DEVICE_TOKEN_PREFIX, hash_secret
from passgate.catalog import services as catalog
from passgate.catalog.models import (
    Category,
    ChannelType,
    Contingent,
    Family,
    Performance,
    PointOfSale,
    Product,
    SalesChannel,
    Season,
    Tariff,
    Validity,
)
from passgate.errors import Conflict
from passgate.orgs.models import DEMO_ORG_CODE, ApiToken, Membership, Organisation, Role
from passgate.orgs.services import TOKEN_PREFIX, Actor, create_organisation, ensure_user, hash_token
from passgate.orgs.timezones import local_time
from passgate.sales import services as sales
from passgate.sales.models import PaymentMode, Ticket

DEMO_ADMIN = ("admin", "passgate-demo")
DEMO_TICKETS = 1000
# Other rooms add their demo data by defining `load_demo(organisation, actor)` in `<room>/demo.py`.
DEMO_ROOMS = ("passgate.access", "passgate.jobs", "passgate.connectors.otipass", "passgate.connectors.tixngo",
              "passgate.guest", "passgate.connectors.fias", "passgate.connectors.paypal")

FIRST_NAMES = ["Camille", "Léa", "Hugo", "Louis", "Chloé", "Jules", "Inès", "Lucas", "Manon", "Nathan",
               "Emma", "Gabriel", "Sarah", "Arthur", "Zoé", "Paul", "Alice", "Tom", "Jade", "Adam"]
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
              "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux"]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def ensure_admin_user() -> Any:
    username, password = DEMO_ADMIN
    return ensure_user(username, password, superuser=True, email="admin@demo.passgate.local")


def load(stdout=None) -> tuple[Organisation, bool]:
    """Returns (organisation, created_now)."""
    user = ensure_admin_user()
    org = Organisation.objects.filter(code=DEMO_ORG_CODE).first()
    created = False
    if org is None:
        with transaction.atomic():
            org = create_organisation(DEMO_ORG_CODE, "Théâtre de la Cité", "Europe/Paris", "EUR",
                                      label="demo-data")
            actor = Actor.system(org, "demo-data")
            Membership.objects.get_or_create(user=user, organisation=org, defaults={"role": Role.ADMINISTRATOR})
            _load_core(actor, stdout)
        created = True
    actor = Actor.system(org, "demo-data")
    for room in DEMO_ROOMS:
        try:
            module = importlib.import_module(f"{room}.demo")
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == f"{room}.demo" or f"{room}.demo".startswith(exc.name)):
                continue
            raise
        with transaction.atomic():
            module.load_demo(org, actor)  # each room's loader is idempotent itself
    with transaction.atomic():
        ensure_on_now(actor)
    return org, created


# ---------------------------------------------------------------- a performance on now

NOW_CODE = "SYM-NOW"
NOW_PRODUCT = "SYMPHONY"
NOW_DEVICE = "HALL-A-SCANNER"  # a door of the Grand Hall, which admits the symphony
NOW_TICKETS = 40  # kept uncontrolled on every run, so the printed scan line keeps answering GRANTED
INTEGRATOR_TOKEN_NAME = "Demo integrator"


def demo_secret(purpose: str) -> str:
    """A token that is the same on every run of this install's demo (derived from its secret key),
    so the lines the demo prints keep working. Only ever used for the demo organisation."""
    return hmac.new(settings.SECRET_KEY.encode(), f"passgate-demo:{purpose}".encode(), hashlib.sha256).hexdigest()


def ensure_on_now(actor: Actor) -> Performance:
    """The demo performance on now: doors open, show started a few minutes ago (moved to now again
    when a later run finds it over or not yet open), with enough printed, unscanned tickets."""
    org = actor.organisation
    now = timezone.now().replace(second=0, microsecond=0)
    product = Product.objects.get(organisation=org, code=NOW_PRODUCT)
    perf = Performance.objects.filter(organisation=org, code=NOW_CODE).first()
    times = {"starts_at": now - dt.timedelta(minutes=10), "doors_open_at": now - dt.timedelta(minutes=70),
             "ends_at": now + dt.timedelta(hours=2, minutes=20)}
    if perf is None:
        perf = catalog.create(actor, Performance, product=product, code=NOW_CODE, name="Symphony No. 9 — on now",
                              venue_site="Grand Hall", venue_city="Toulouse", venue_country_code="FR",
                              venue_zip="31000", capacity=800, **times)
    elif not (perf.doors_open_at <= now and now + dt.timedelta(minutes=30) <= perf.ends_at):
        perf = catalog.update(actor, perf, **times)
    live = Ticket.objects.filter(organisation=org, performance=perf, status="PRINTED", control_count=0)
    missing = NOW_TICKETS - live.count()
    if missing > 0:
        box = SalesChannel.objects.get(organisation=org, code="BOX")
        desk = PointOfSale.objects.get(organisation=org, code="DESK1")
        tariff = Tariff.objects.get(organisation=org, product=product, code="FULL")
        order = sales.sell(actor, sales.SaleRequest(
            channel=box, point_of_sale=desk, payment_mode=PaymentMode.CARD,
            lines=[sales.SaleLine(product=product, tariff=tariff, performance=perf, quantity=missing)]))
        for ticket in Ticket.objects.filter(order=order).order_by("id"):
            sales.print_ticket(actor, ticket, desk)
    # the demo's door device and integrator get the tokens the demo prints
    device = Device.objects.get(organisation=org, name=NOW_DEVICE)
    device_token = demo_device_token()
    if device.token_hash != hash_secret(device_token):
        Device.objects.filter(pk=device.pk).update(token_hash=hash_secret(device_token),
                                                   token_prefix=device_token[:10])
    api_token = demo_api_token()
    if not ApiToken.objects.filter(token_hash=hash_token(api_token)).exists():
        ApiToken.objects.create(organisation=org, name=INTEGRATOR_TOKEN_NAME, role=Role.ADMINISTRATOR,
                                prefix=api_token[:10], token_hash=hash_token(api_token))
    return perf


def demo_device_token() -> str:
    return DEVICE_TOKEN_PREFIX + demo_secret("device:" + NOW_DEVICE)


def demo_api_token() -> str:
    return TOKEN_PREFIX + demo_secret("integrator")


def now_lines(org: Organisation, base_url: str = "http://127.0.0.1:8000") -> list[str]:
    """What the demo prints beside the admin URL: a door token, a ready scan line, an API token."""
    perf = Performance.objects.get(organisation=org, code=NOW_CODE)
    ticket = (Ticket.objects.filter(organisation=org, performance=perf, status="PRINTED", control_count=0)
              .order_by("id").first())
    starts = local_time(org, perf.starts_at)
    lines = [f"  On now:      {perf.code} \"{perf.name}\", started {starts:%H:%M} ({org.time_zone}), "
             f"door HALL-A",
             f"  Attendance:  {base_url}/admin/access/scan/attendance/{perf.pk}/",
             f"  Door device: {NOW_DEVICE}   token: {demo_device_token()}"]
    if ticket is not None:
        lines.append(f"  Scan it:     passgate scan --device-token {demo_device_token()} {ticket.barcode}"
                     f"   (GRANTED, then ALREADY_CONTROLLED)")
    lines.append(f"  API token:   {demo_api_token()}   ({INTEGRATOR_TOKEN_NAME}; try: curl -H "
                 f"'Authorization: Bearer {demo_api_token()}' {base_url}/api/v1/me)")
    # rooms may add lines of their own: `demo_lines(organisation, base_url)` in `<room>/demo.py`
    for room in DEMO_ROOMS:
        try:
            module = importlib.import_module(f"{room}.demo")
        except ModuleNotFoundError:
            continue
        lines.extend(getattr(module, "demo_lines", lambda *_: [])(org, base_url))
    return lines


def _load_core(actor: Actor, stdout) -> None:
    rng = random.Random(2026)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    c = catalog.create
    season = c(actor, Season, code="S2026", name="Season 2026-2027", starts_on=now.date(),
               ends_on=(now + dt.timedelta(days=365)).date())

    def product(code, name, family, **extra):
        return c(actor, Product, season=season, code=code, name=name, family=family, **extra)

    concert = product("SYMPHONY", "Symphony No. 9", Family.EVENT)
    match = product("DERBY", "City Derby", Family.MATCH)
    city_pass = product("PASSTOU", "City pass 48h", Family.OPEN_PASS, validity=Validity.FROM_FIRST_CONTROL,
                        validity_hours=48)
    museum = product("MUSEUM", "Museum open pass", Family.OPEN_PASS, validity=Validity.FIXED,
                     valid_from=now, valid_until=now + dt.timedelta(days=90), max_controls_per_day=2)
    parking = product("PARKING", "Parking", Family.SERVICE, validity=Validity.FIXED, valid_from=now,
                      valid_until=now + dt.timedelta(days=60))
    member = product("FRIENDS", "Friends of the theatre", Family.MEMBERSHIP, validity=Validity.FIXED,
                     valid_from=now, valid_until=now + dt.timedelta(days=365))
    season_card = product("SEASONCARD", "Season card", Family.SEASON_TICKET, validity=Validity.FIXED,
                          valid_from=now, valid_until=now + dt.timedelta(days=300))

    tariffs: dict[int, list[Tariff]] = {}
    categories: dict[int, list[Category]] = {}
    for prod, prices in [(concert, [("FULL", 45), ("REDUCED", 30), ("CHILD", 15)]),
                         (match, [("FULL", 25), ("REDUCED", 15)]),
                         (city_pass, [("ADULT", 39), ("CHILD", 19)]),
                         (museum, [("ADULT", 12)]), (parking, [("DAY", 8)]), (member, [("YEAR", 60)]),
                         (season_card, [("FULL", 240)])]:
        tariffs[prod.pk] = [c(actor, Tariff, product=prod, code=code, name=code.title(), price=Decimal(price))
                            for code, price in prices]
    for prod in (concert, match):
        categories[prod.pk] = [c(actor, Category, product=prod, code=code, name=name)
                               for code, name in [("CAT1", "Stalls"), ("CAT2", "Circle"), ("CAT3", "Balcony")]]

    performances: dict[int, list[Performance]] = {concert.pk: [], match.pk: []}
    for week in range(6):
        start = (now + dt.timedelta(days=2 + 7 * week)).replace(hour=18)
        performances[concert.pk].append(c(
            actor, Performance, product=concert, code=f"SYM{week + 1:02d}", name=f"Symphony No. 9 — night {week + 1}",
            starts_at=start, ends_at=start + dt.timedelta(hours=2, minutes=30),
            doors_open_at=start - dt.timedelta(hours=1), venue_site="Grand Hall", venue_city="Toulouse",
            venue_country_code="FR", venue_zip="31000", capacity=800))
        match_start = (now + dt.timedelta(days=5 + 14 * week)).replace(hour=20)
        if week < 3:
            performances[match.pk].append(c(
                actor, Performance, product=match, code=f"DERBY{week + 1}", name=f"City Derby, leg {week + 1}",
                starts_at=match_start, ends_at=match_start + dt.timedelta(hours=2),
                doors_open_at=match_start - dt.timedelta(hours=2), venue_site="Stadium", venue_city="Toulouse",
                venue_country_code="FR", venue_zip="31200"))

    box = c(actor, SalesChannel, code="BOX", name="Box office", type=ChannelType.INTERNAL)
    web = c(actor, SalesChannel, code="WEB", name="Web shop", type=ChannelType.INTERNET)
    c(actor, SalesChannel, code="OTIPASS", name="Otipass external sales", type=ChannelType.EXTERNAL_STX_FILE)
    c(actor, SalesChannel, code="TIXNGO", name="TIXnGO wallet", type=ChannelType.EXTERNAL_PRINTING)
    desks = [c(actor, PointOfSale, channel=box, code=f"DESK{i}", name=f"Desk {i}") for i in (1, 2)]
    c(actor, PointOfSale, channel=web, code="WEBSHOP", name="Web shop")
    c(actor, Contingent, code="WEB-SYM01", name="Web quota, first night", channel=web, product=concert,
      performance=performances[concert.pk][0], quota=300)

    contacts = []
    for i in range(120):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        modes = [PaymentMode.CARD, PaymentMode.PENDING_ACCOUNT] if i % 25 == 0 else []
        contacts.append(sales.create_contact(
            actor, first_name=first, last_name=last, email=_ascii(f"{first}.{last}.{i}@example.org".lower()),
            birth_date=dt.date(1950 + rng.randrange(55), rng.randrange(1, 13), rng.randrange(1, 28)),
            country_code=rng.choice(["FR", "FR", "FR", "CH", "ES", "DE"]), gender=rng.choice(["F", "M", ""]),
            payment_modes=modes))

    products = [concert, concert, concert, match, match, city_pass, city_pass, museum, parking, member,
                season_card]
    sold = 0
    orders = []
    while sold < DEMO_TICKETS:
        prod = rng.choice(products)
        quantity = min(rng.choice([1, 1, 2, 2, 3, 4]), DEMO_TICKETS - sold)
        perf = rng.choice(performances[prod.pk]) if prod.pk in performances else None
        cats = categories.get(prod.pk)
        buyer = rng.choice(contacts) if rng.random() < 0.85 else None
        channel, pos = (box, rng.choice(desks)) if rng.random() < 0.6 else (web, None)
        lines = [sales.SaleLine(product=prod, tariff=rng.choice(tariffs[prod.pk]), performance=perf,
                                category=rng.choice(cats) if cats else None,
                                seat=f"R{rng.randrange(1, 30)}-{rng.randrange(1, 40)}" if cats else "",
                                cultural_contact=rng.choice(contacts) if buyer and rng.random() < 0.3 else None,
                                quantity=quantity)]
        try:
            order = sales.sell(actor, sales.SaleRequest(channel=channel, lines=lines, buyer=buyer,
                                                        point_of_sale=pos, payment_mode=PaymentMode.CARD))
        except Conflict:
            continue  # a contingent filled up: sell elsewhere
        orders.append(order)
        sold += quantity
        if stdout and sold % 200 < quantity:
            stdout.write(f"  demo tickets sold: {sold}/{DEMO_TICKETS}")

    # Mixed states: most printed, some reprinted, some cancelled or invalidated.
    for order in orders:
        roll = rng.random()
        if roll < 0.05:
            sales.cancel_order(actor, order)
            continue
        for ticket in list(Ticket.objects.filter(order=order)):
            r = rng.random()
            if r < 0.65:
                ticket = sales.print_ticket(actor, ticket, order.point_of_sale)
                if rng.random() < 0.04:
                    sales.reprint_ticket(actor, ticket, order.point_of_sale)
            elif r < 0.68:
                sales.invalidate_ticket(actor, ticket)
            elif r < 0.72:
                sales.cancel_ticket(actor, ticket)
