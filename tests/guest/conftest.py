"""A hotel with one location, a NAS client on loopback, three access methods (one per format),
an API token for FreeRADIUS, and a client that posts rlm_rest-shaped JSON."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone

from passgate.guest import services
from passgate.guest.models import CountedFrom, Format
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, issue_api_token

NAS_IP = "127.0.0.1"


class WsgiClient:
    """Posts to passgate's WSGI application itself, the way gunicorn serves it (so through the
    RADIUS fast path, passgate.guest.radius_wsgi), with Django's test client's calling style."""

    def __init__(self, remote: str) -> None:
        from passgate.wsgi import application

        self.http = httpx.Client(transport=httpx.WSGITransport(app=application, remote_addr=remote),
                                 base_url="http://testserver")

    def post(self, path: str, data: bytes | str, content_type: str = "application/json", **extra):
        headers = {"Content-Type": content_type}
        headers.update({k[5:].replace("_", "-"): v for k, v in extra.items() if k.startswith("HTTP_")})
        with inside_test_transaction():
            return self.http.post(path, content=data, headers=headers)


@contextlib.contextmanager
def inside_test_transaction():
    """What Django's test client does around a request: the request signals must not close the
    connection that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class Radius:
    """Plays FreeRADIUS's rlm_rest: JSON bodies of typed attributes, the token header. `via`
    "django" goes through Django's views (test client), "wsgi" through the fast path gunicorn serves."""

    def __init__(self, token: str, nas_ip: str = NAS_IP, remote: str = "127.0.0.1", via: str = "django") -> None:
        self.client = Client(REMOTE_ADDR=remote) if via == "django" else WsgiClient(remote)
        self.token, self.nas_ip = token, nas_ip

    @staticmethod
    def attrs(**values) -> dict:
        out = {}
        for key, v in values.items():
            name = key.replace("_", "-")
            kind = "integer" if isinstance(v, int) else "string"
            out[name] = {"type": kind, "value": [v]}
        return out

    def post(self, endpoint: str, **values):
        values.setdefault("NAS_IP_Address", self.nas_ip)
        return self.client.post(f"/radius/{endpoint}", json.dumps(self.attrs(**values)),
                                content_type="application/json", HTTP_X_PASSGATE_TOKEN=self.token)

    def authorize(self, username: str, mac: str = "aa-bb-cc-00-00-01", **more):
        return self.post("authorize", User_Name=username, Calling_Station_Id=mac, **more)

    def acct(self, kind: str, username: str, uid: str, mac: str = "aa-bb-cc-00-00-01", **more):
        return self.post("accounting", Acct_Status_Type=kind, User_Name=username, Acct_Unique_Session_Id=uid,
                         Acct_Session_Id=uid.upper(), Calling_Station_Id=mac, **more)


def reply(response) -> dict:
    return {k: v["value"] for k, v in response.json().items()}


class Hotel:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.location = services.create_location(actor, code="LOBBY", name="Hotel lobby", time_zone="Europe/Paris",
                                                 ssid="Hotel-Guest", qr_style="PORTAL",
                                                 portal_url="https://portal.example/login", deliver_sms=True)
        self.nas = services.create_nas_client(actor, self.location, name="Lobby controller", network=NAS_IP,
                                              secret="radius-secret")
        self.single = services.create_method(
            actor, self.location, code="DAY", name="Day pass", format=Format.SINGLE, price=Decimal("5.00"),
            devices=2, duration=dt.timedelta(hours=24), counted_from=CountedFrom.FIRST_LOGIN,
            bandwidth_up=1_000_000, bandwidth_down=5_000_000, idle_timeout=600, quota_bytes=10 * 2**30,
            extra_fields=[{"name": "room", "label": "Room", "type": "text", "required": True},
                          {"name": "mobile", "label": "Mobile", "type": "phone", "required": False}])
        self.variable = services.create_method(
            actor, self.location, code="STAY", name="Stay", format=Format.VARIABLE, price=Decimal("3.00"),
            min_days=1, max_days=14)
        self.special = services.create_method(
            actor, self.location, code="EVENT", name="Conference", format=Format.SPECIAL, devices=1)
        _, self.token = issue_api_token(actor, "freeradius", Role.ACCESS_CONTROL)

    def issue(self, method=None, count=1, **kwargs):
        method = method or self.single
        kwargs.setdefault("extra", {"room": "101"} if method == self.single else {})
        return services.issue_tickets(self.actor, services.IssueRequest(method=method, count=count, **kwargs)).tickets

    def radius(self, **kwargs) -> Radius:
        return Radius(self.token, **kwargs)


@pytest.fixture
def hotel(admin_actor):
    return Hotel(admin_actor)


@pytest.fixture(params=["django", "wsgi"])
def radius(hotel, request):
    """Each endpoint test runs through Django's views and through the WSGI fast path: they must
    answer alike."""
    return hotel.radius(via=request.param)


@pytest.fixture
def now():
    return timezone.now()
