"""Demo data for guest WiFi: a hotel lobby with a NAS client on 127.0.0.1, three access methods
(one per format) and a few tickets, one of them in use. Idempotent."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone

from . import services
from .models import CountedFrom, Format, Location

DEMO_NAS_SECRET = "passgate-demo-radius"


def load_demo(organisation, actor) -> None:
    existing = Location.objects.filter(organisation=organisation, code="LOBBY").first()
    if existing is not None:
        portal_demo(actor, existing)
        return
    location = services.create_location(actor, code="LOBBY", name="Hotel lobby", time_zone=organisation.time_zone,
                                        ssid="Passgate-Guest", qr_style="PORTAL",
                                        portal_url=portal_url(organisation, "login/"), deliver_sms=True)
    nas = services.create_nas_client(actor, location, name="Demo controller", network="127.0.0.1",
                                     secret=DEMO_NAS_SECRET, nas_identifier="demo-nas")
    day = services.create_method(
        actor, location, code="DAY", name="Day pass", format=Format.SINGLE, price=Decimal("5.00"), devices=2,
        duration=dt.timedelta(hours=24), counted_from=CountedFrom.FIRST_LOGIN, bandwidth_up=2_000_000,
        bandwidth_down=10_000_000, quota_bytes=5 * 2**30, idle_timeout=900,
        extra_fields=[{"name": "room", "label": "Room", "type": "text", "required": True}])
    services.create_method(actor, location, code="STAY", name="Stay (per day)", format=Format.VARIABLE,
                           price=Decimal("3.00"), devices=3, min_days=1, max_days=14)
    event = services.create_method(actor, location, code="EVENT", name="Conference", format=Format.SPECIAL,
                                   devices=1, bandwidth_down=5_000_000)
    # Sponsored access: staff of the hotel's domain approve guests; 10 minutes of grace while they decide.
    sponsored = services.create_method(actor, location, code="SPONSORED", name="Sponsored day", format=Format.SINGLE,
                                       devices=2, duration=dt.timedelta(hours=24), grace_minutes=10)
    location.sponsors_allowed, location.sponsor_method = "@hotel.example", sponsored
    location.save(update_fields=["sponsors_allowed", "sponsor_method"])
    services.issue_tickets(actor, services.IssueRequest(method=day, count=5, user_id="guest@example.org",
                                                        extra={"room": "101"}))
    now = timezone.now()
    services.issue_tickets(actor, services.IssueRequest(method=event, username="conference", password="welcome2026",
                                                        valid_from=now, valid_until=now + dt.timedelta(days=3)))
    in_use = services.issue_tickets(actor, services.IssueRequest(method=day, user_id="+33612345678",
                                                                 extra={"room": "204"})).tickets[0]
    uid = uuid.uuid4().hex
    services.account(nas, services.AccountingRecord(status_type="Start", unique_id=uid, username=in_use.username,
                                                    acct_session_id=uid[:8], nas_ip="127.0.0.1",
                                                    calling_station="02-00-00-00-00-01", framed_ip="10.0.0.21"))
    services.account(nas, services.AccountingRecord(status_type="Interim-Update", unique_id=uid,
                                                    username=in_use.username, session_time=600,
                                                    input_octets=12_000_000, output_octets=240_000_000))
    portal_demo(actor, location)


# ---------------------------------------------------------------- the captive portal (#12)

def portal_url(organisation, page: str = "") -> str:
    from django.conf import settings

    return f"{settings.BASE_URL}/portal/{organisation.code}/LOBBY/{page}"


def portal_demo(actor, location) -> None:
    """The lobby's portal: English and French, the logo, codes by SMS (a free 2-hour pass) to
    mobiles of nearby countries. Idempotent: done once, when the lobby has no SMS method yet."""
    if location.sms_method_id is not None:
        return
    sms = (location.methods.filter(code="SMS2H").first()
           or services.create_method(actor, location, code="SMS2H", name="2 hours by SMS", format=Format.SINGLE,
                                     devices=1, duration=dt.timedelta(hours=2), bandwidth_down=5_000_000))
    services.update_location(actor, location, languages="en,fr", logo="guest/portal/logo.svg", sms_method=sms,
                             sms_countries="FR,BE,CH,GB,DE,ES,IT,LU,NL", sms_per_number_per_day=3,
                             portal_url=portal_url(location.organisation, "login/"))


def demo_lines(organisation, base_url: str) -> list[str]:
    return [f"  Guest WiFi:  {base_url}/portal/{organisation.code}/LOBBY/   (captive portal, en/fr; codes by SMS "
            f"land in the SMS sandbox: http://127.0.0.1:8104/_sandbox/state)"]


def demo_services(base_url: str, say) -> list[tuple[str, list[str]]]:
    """Processes the demo runs for guest WiFi: FreeRADIUS rendered against the demo's passgate
    (auth 127.0.0.1:18120, acct 18130; the demo controller's secret is DEMO_NAS_SECRET)."""
    from .radius_config import ensure_freeradius

    if not ensure_freeradius(say):
        return []
    return [("freeradius", ["radius", "--url", base_url])]

