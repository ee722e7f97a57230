"""Demo data of the PayPal connector: the demo organisation's PayPal account (for all its locations)
on the PayPal sandbox that `passgate demo` starts on 8105, so the LOBBY's priced methods can be bought
on the portal. The sandbox started with --demo sends its webhooks to
http://127.0.0.1:8000/paypal/webhooks/demo/ (the organisation's account, by organisation code).
Idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from passgate.guest import services as guest
from passgate.guest.models import AccessMethod, CountedFrom, Format, Location
from passgate.orgs.services import Actor

from . import services
from .models import PaypalAccount

DEMO_CLIENT_ID, DEMO_SECRET = "passgate-client", "passgate-secret"  # the sandbox's default client
DEMO_WEBHOOK_ID = "WH-SANDBOX-1"  # the sandbox's default webhook id


def load_demo(organisation, actor: Actor) -> None:
    from sandboxes.registry import DEMO_SANDBOXES

    if PaypalAccount.objects.filter(organisation=organisation).exists():
        return
    location = Location.objects.filter(organisation=organisation, code="LOBBY").first()
    if location is not None and not AccessMethod.objects.filter(location=location, code="WEB-DAY").exists():
        # the LOBBY's DAY asks the desk for a room number; this one a guest can buy alone on the portal
        guest.create_method(actor, location, code="WEB-DAY", name="Day pass (online)", format=Format.SINGLE,
                            price=Decimal("5.00"), devices=2, duration=dt.timedelta(hours=24),
                            counted_from=CountedFrom.FIRST_LOGIN, bandwidth_down=10_000_000)
    services.create_account(actor, client_id=DEMO_CLIENT_ID, secret=DEMO_SECRET,
                            base_url=f"http://127.0.0.1:{DEMO_SANDBOXES.get('paypal', 8105)}",
                            webhook_id=DEMO_WEBHOOK_ID, brand_name=organisation.name)
