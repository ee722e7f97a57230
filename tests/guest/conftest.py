"""A hotel with one location, a NAS client on loopback, three access methods (one per format),
an API token for FreeRADIUS, and a client that posts rlm_rest-shaped JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from passgate.guest import services
from passgate.guest.models import CountedFrom, Format
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, issue_api_token

NAS_IP = "127.0.0.1"


class Radius:
    """Plays FreeRADIUS's rlm_rest: JSON bodies of typed attributes, the token header."""

    def __init__(self, token: str, nas_ip: str = NAS_IP, remote: str = "127.0.0.1") -> None:
        self.client = Client(REMOTE_ADDR=remote)
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


@pytest.fixture
def radius(hotel):
    return hotel.radius()


@pytest.fixture
def now():
    return timezone.now()
