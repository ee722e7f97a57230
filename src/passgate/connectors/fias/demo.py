"""Demo: the lobby hotel's PMS link to the stand-in (`passgate sandbox pms`, FIAS on 127.0.0.1:8116,
two guests in house: room 101 Martin, room 102 Dubois), and `passgate pms` run by the demo."""

from __future__ import annotations

from passgate.guest import services as guest
from passgate.guest.models import AccessMethod, Format, Location

from . import services
from .models import PmsLink

DEMO_FIAS_PORT = 8116  # sandboxes.pms.app.DEFAULT_FIAS_PORT


def load_demo(organisation, actor) -> None:
    location = Location.objects.filter(organisation=organisation, code="LOBBY").first()
    if location is None or PmsLink.objects.filter(location=location).exists():
        return
    method = AccessMethod.objects.filter(organisation=organisation, code="HOTELSTAY").first() or guest.create_method(
        actor, location, code="HOTELSTAY", name="Hotel stay", format=Format.SPECIAL, devices=3,
        bandwidth_down=20_000_000)
    services.create_link(actor, location, name="Hotel PMS (stand-in)", host="127.0.0.1", port=DEMO_FIAS_PORT,
                         checkout_hour=11, access_method=method, keepalive_seconds=30)


def demo_services(base_url: str, say) -> list[tuple[str, list[str]]]:
    return [("pms link", ["pms"])]
