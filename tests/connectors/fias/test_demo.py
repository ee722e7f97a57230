"""The demo's hotel: the stand-in started with its demo guests, the lobby's PMS link from the demo
data; once the link runs, rooms 101 and 102 can log in with their names."""

from __future__ import annotations

import pytest

from passgate.connectors.fias import demo as fias_demo
from passgate.connectors.fias.link import Interface
from passgate.connectors.fias.models import PmsLink
from passgate.guest import demo as guest_demo
from passgate.guest import services as guest
from passgate.guest.models import Location

from .conftest import LinkThread, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_hotel_has_its_guests_in_house(sandbox, org, admin_actor):
    pms = sandbox("pms", fias_port=0, demo=True)
    guest_demo.load_demo(org, admin_actor)
    fias_demo.load_demo(org, admin_actor)
    fias_demo.load_demo(org, admin_actor)  # idempotent
    link = PmsLink.objects.get()
    assert (link.port, link.access_method.code) == (fias_demo.DEMO_FIAS_PORT, "HOTELSTAY")
    assert fias_demo.demo_services("http://127.0.0.1:8000", print) == [("pms link", ["pms"])]

    link.port = pms.state()["data"]["fias_port"]  # the test's stand-in, not the demo's fixed port
    thread = LinkThread(Interface.of(link, poll=0.05, backoff_min=0.1, backoff_max=0.3))
    try:
        lobby = Location.objects.get(code="LOBBY")
        martin = wait_for(lambda: guest.hotel_ticket(lobby, "101", "martin"), what="room 101 from the resync")
        assert (martin.username, martin.password) == ("101", "Martin")
        wait_for(lambda: guest.hotel_ticket(lobby, "102", "Dubois"), what="room 102 from the resync")
    finally:
        thread.stop()
