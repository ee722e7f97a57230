"""A hotel location with a FIAS link to the PMS stand-in (real TCP on loopback), and the link
coroutine run in a thread as `passgate pms` runs it."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import httpx
import pytest

from passgate.connectors.fias import services
from passgate.connectors.fias.link import Interface, run_link
from passgate.guest import services as guest
from passgate.guest.models import Format


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Pms:
    """The stand-in seen from a test: its control port and its state."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.http = httpx.Client(base_url=handle.url, timeout=10)

    def post(self, path: str, **body):
        response = self.http.post(f"/pms/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def checkin(self, room, reservation, last_name, **more):
        return self.post("checkin", room=room, reservation=reservation, last_name=last_name, **more)

    def state(self) -> dict:
        return self.handle.state()["data"]

    @property
    def fias_port(self) -> int:
        return self.state()["fias_port"]


class LinkThread:
    """run_link in a thread with its own loop; stop() ends it the way SIGTERM does."""

    def __init__(self, interface: Interface) -> None:
        self.interface = interface
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = threading.Event()
        self.thread.start()
        self.started.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_event = asyncio.Event()
            self.started.set()
            await run_link(self.interface, self.stop_event)

        self.loop.run_until_complete(main())
        from django.db import connections

        connections.close_all()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)
        assert not self.thread.is_alive(), "the link did not stop"


class Hotel:
    def __init__(self, actor, port: int) -> None:
        self.actor = actor
        self.location = guest.create_location(actor, code="GRAND", name="Grand Hotel", time_zone="Europe/Paris",
                                              ssid="Grand-Guest", qr_style="PORTAL",
                                              portal_url="https://portal.example/login")
        self.nas = guest.create_nas_client(actor, self.location, name="Lobby", network="127.0.0.1",
                                           secret="radius-secret")
        self.stay = guest.create_method(actor, self.location, code="STAYPMS", name="Hotel stay",
                                        format=Format.SPECIAL, devices=3)
        self.day = guest.create_method(actor, self.location, code="PREMIUM", name="Premium day",
                                       format=Format.VARIABLE, price=Decimal("4.50"), min_days=1, max_days=7)
        self.link = services.create_link(actor, self.location, name="Opera", host="127.0.0.1", port=port,
                                          checkout_hour=11, access_method=self.stay, keepalive_seconds=5)


@pytest.fixture
def pms(sandbox):
    return Pms(sandbox("pms", fias_port=0))


@pytest.fixture
def hotel(admin_actor, pms):
    return Hotel(admin_actor, pms.fias_port)


@pytest.fixture
def start_link(hotel):
    threads: list[LinkThread] = []

    def start(**overrides) -> LinkThread:
        options = {"poll": 0.05, "backoff_min": 0.1, "backoff_max": 0.3, **overrides}
        thread = LinkThread(Interface.of(hotel.link, **options))
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        if thread.thread.is_alive():
            thread.stop()
