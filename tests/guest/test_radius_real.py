"""The real FreeRADIUS 3.2 process between a NAS and passgate: radclient plays the NAS, FreeRADIUS
(rendered by passgate.guest.radius_config) calls passgate's rlm_rest endpoints on a live server.

One FreeRADIUS for the whole session, rendered with a client for 127.0.0.1 whose token is
RADIUS_TOKEN; each test's hotel stores that token's hash, so FreeRADIUS speaks for it."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import socket
import subprocess
import time

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pyrad import packet

from passgate.guest import coa, radius_config, services
from passgate.guest import demo as guest_demo
from passgate.guest.models import (
    CutReason,
    Disconnect,
    DisconnectResult,
    GuestStatus,
    RadiusSession,
    RequestKind,
)
from passgate.orgs.models import ApiToken, Role
from passgate.orgs.services import hash_token
from sandboxes.nas import NasStandIn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(radius_config.freeradius_binary() is None or shutil.which("radclient") is None,
                       reason="FreeRADIUS is not installed (scripts/system-deps.sh installs freeradius, "
                              "freeradius-rest and freeradius-utils)"),
]

RADIUS_TOKEN = "pg_test-freeradius-token"
SECRET = "radius-secret"  # the hotel fixture's NAS secret
GIB4 = 2**32


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def freeradius(live_server, tmp_path_factory):
    ports = radius_config.RadiusPorts("127.0.0.1", free_udp_port(), free_udp_port())
    directory = radius_config.render(
        tmp_path_factory.mktemp("freeradius"), live_server.url, ports, threads=2, max_threads=8,
        clients=[radius_config.Client(name="test-nas", network="127.0.0.1", secret=SECRET, token=RADIUS_TOKEN)])
    checked = radius_config.check(directory)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    process = subprocess.Popen(radius_config.command(directory), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # Status-Server answers once it listens
        if radclient(ports.auth_port, "status", 'Message-Authenticator = 0x00').returncode == 0:
            break
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    yield ports
    process.terminate()
    process.wait(10)


def radclient(port: int, kind: str, *lines: str, secret: str = SECRET) -> subprocess.CompletedProcess:
    # -d: passgate's local dictionary (the ChilliSpot gigawords), as a hotspot knows them
    return subprocess.run(["radclient", "-x", "-d", str(radius_config.TEMPLATES), "-r", "1", "-t", "5",
                           f"127.0.0.1:{port}", kind, secret],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Answer:
    def __init__(self, done: subprocess.CompletedProcess) -> None:
        self.raw = done.stdout + done.stderr
        self.code = next((word for line in self.raw.splitlines() if line.startswith("Received")
                          for word in line.split()[1:2]), "none")
        self.attributes: dict[str, str] = {}
        received = False
        for line in self.raw.splitlines():
            if line.startswith("Received"):
                received = True
            elif received and "=" in line and line.startswith(("\t", " ")):
                name, _, value = line.strip().partition(" = ")
                self.attributes[name] = value.strip('"')


@pytest.fixture
def nas(freeradius, hotel):
    ApiToken.objects.create(organisation=hotel.actor.organisation, name="freeradius test", role=Role.ACCESS_CONTROL,
                            prefix=RADIUS_TOKEN[:10], token_hash=hash_token(RADIUS_TOKEN))
    return Nas(freeradius)


class Nas:
    """radclient as the hotspot controller."""

    def __init__(self, ports: radius_config.RadiusPorts) -> None:
        self.ports = ports

    def pap(self, username: str, password: str, mac: str = "aa-bb-cc-00-00-01") -> Answer:
        return Answer(radclient(self.ports.auth_port, "auth", f"User-Name = {quote(username)}",
                                f"User-Password = {quote(password)}", f"Calling-Station-Id = {quote(mac)}",
                                "NAS-IP-Address = 127.0.0.1"))

    def chap(self, username: str, password: str, mac: str = "aa-bb-cc-00-00-01") -> Answer:
        # radclient computes the CHAP response from the cleartext given as CHAP-Password
        return Answer(radclient(self.ports.auth_port, "auth", f"User-Name = {quote(username)}",
                                f"CHAP-Password = {quote(password)}", f"Calling-Station-Id = {quote(mac)}",
                                "NAS-IP-Address = 127.0.0.1"))

    def acct(self, kind: str, username: str, session: str, mac: str = "aa-bb-cc-00-00-01", **counters) -> Answer:
        lines = [f"Acct-Status-Type = {kind}", f"User-Name = {quote(username)}",
                 f"Acct-Session-Id = {quote(session)}", f"Calling-Station-Id = {quote(mac)}",
                 "NAS-IP-Address = 127.0.0.1"]
        lines += [f"{name.replace('_', '-')} = {value}" for name, value in counters.items()]
        return Answer(radclient(self.ports.acct_port, "acct", *lines))


def test_fresh_ticket_accepted_over_pap_with_its_limits(hotel, nas):
    ticket = hotel.issue()[0]
    answer = nas.pap(ticket.username, ticket.password)
    assert answer.code == "Access-Accept", answer.raw
    assert int(answer.attributes["Session-Timeout"]) == 24 * 3600
    assert answer.attributes["WISPr-Bandwidth-Max-Up"] == "1000000"
    assert answer.attributes["WISPr-Bandwidth-Max-Down"] == "5000000"
    assert answer.attributes["Idle-Timeout"] == "600"
    # 10 GiB: 2 GiB in the 32-bit attribute and 2 gigawords in its companion
    assert answer.attributes["ChilliSpot-Max-Total-Octets"] == str(2 * 2**30)
    assert answer.attributes["ChilliSpot-Max-Total-Gigawords"] == "2"
    assert answer.attributes["Reply-Message"].startswith("Welcome")
    assert "Cleartext-Password" not in answer.attributes  # a control item: never sent to the NAS
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.IN_USE and ticket.first_login_at is not None  # post-auth reached passgate


def test_chap_accepted_and_wrong_password_rejected(hotel, nas):
    ticket = hotel.issue()[0]
    assert nas.chap(ticket.username, ticket.password).code == "Access-Accept"
    assert nas.chap(ticket.username, ticket.password + "x").code == "Access-Reject"
    assert nas.pap(ticket.username, ticket.password + "x").code == "Access-Reject"
    assert nas.pap("nobody-at-all", "whatever").code == "Access-Reject"


def test_expired_and_cancelled_tickets_rejected_with_a_message(hotel, nas):
    expired = hotel.issue(hotel.special, valid_from=timezone.now() - dt.timedelta(days=2),
                          valid_until=timezone.now() - dt.timedelta(seconds=1))[0]
    answer = nas.pap(expired.username, expired.password)
    assert answer.code == "Access-Reject"
    assert "expired" in answer.attributes["Reply-Message"]
    cancelled = hotel.issue()[0]
    services.cancel_ticket(hotel.actor, cancelled)
    answer = nas.pap(cancelled.username, cancelled.password)
    assert answer.code == "Access-Reject"
    assert "cancelled" in answer.attributes["Reply-Message"]


def test_third_device_refused_while_a_reconnecting_one_is_not(hotel, nas):
    ticket = hotel.issue()[0]  # 2 devices
    for n, mac in enumerate(["aa-00-00-00-00-01", "aa-00-00-00-00-02"]):
        assert nas.pap(ticket.username, ticket.password, mac=mac).code == "Access-Accept"
        assert nas.acct("Start", ticket.username, f"dev{n}", mac=mac).code == "Accounting-Response"
    third = nas.pap(ticket.username, ticket.password, mac="aa-00-00-00-00-03")
    assert third.code == "Access-Reject"
    assert "2 devices" in third.attributes["Reply-Message"]
    assert nas.pap(ticket.username, ticket.password, mac="aa-00-00-00-00-02").code == "Access-Accept"


def test_accounting_counts_past_4_gib_and_accounting_on_closes_the_nas_sessions(hotel, nas):
    ticket = hotel.issue()[0]
    assert nas.acct("Start", ticket.username, "S1").code == "Accounting-Response"
    nas.acct("Interim-Update", ticket.username, "S1", Acct_Session_Time=60, Acct_Input_Octets=5,
             Acct_Input_Gigawords=1, Acct_Output_Octets=7, Acct_Output_Gigawords=2)
    session = RadiusSession.objects.get(ticket=ticket)
    assert (session.input_octets, session.output_octets) == (GIB4 + 5, 2 * GIB4 + 7)
    assert nas.acct("Stop", ticket.username, "S1", Acct_Session_Time=90, Acct_Input_Octets=9,
                    Acct_Input_Gigawords=1, Acct_Output_Octets=8, Acct_Output_Gigawords=3,
                    Acct_Terminate_Cause="User-Request").code == "Accounting-Response"
    session.refresh_from_db()
    assert session.stopped_at is not None and session.session_time == 90
    assert (session.input_octets, session.output_octets) == (GIB4 + 9, 3 * GIB4 + 8)
    nas.acct("Start", ticket.username, "S2", mac="aa-bb-cc-00-00-02")
    assert RadiusSession.objects.filter(ticket=ticket, stopped_at__isnull=True).count() == 1
    on = Answer(radclient(nas.ports.acct_port, "acct", "Acct-Status-Type = Accounting-On",
                          "NAS-IP-Address = 127.0.0.1", 'Acct-Session-Id = "0"'))
    assert on.code == "Accounting-Response", on.raw
    assert not RadiusSession.objects.filter(ticket=ticket, stopped_at__isnull=True).exists()


def test_username_with_quotes_and_xlat_reaches_passgate_unchanged(hotel, nas):
    name = 'eve"%{exec:/bin/true}%{User-Password}'
    ticket = hotel.issue(hotel.special, username=name, password="pw-0123",
                         valid_from=timezone.now(), valid_until=timezone.now() + dt.timedelta(days=1))[0]
    answer = nas.pap(name, "pw-0123")
    assert answer.code == "Access-Accept", answer.raw
    nas.acct("Start", name, "X1")
    assert RadiusSession.objects.get(ticket=ticket).username == name


# ---------------------------------------------------------------- cutting live sessions (RFC 5176)

@pytest.fixture
def controller(nas, hotel):
    """The NAS stand-in (sandboxes/nas) as the hotel's controller: logs in through FreeRADIUS and
    answers Disconnect/CoA on a loopback port of its own."""
    stand_in = NasStandIn(SECRET, nas.ports.auth_port, nas.ports.acct_port).start()
    hotel.nas.coa_port = stand_in.coa_port
    hotel.nas.save(update_fields=["coa_port"])
    yield stand_in
    stand_in.stop()


def wait_closed(session_filter, seconds: float = 10) -> RadiusSession:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        session = RadiusSession.objects.get(**session_filter)
        if session.stopped_at is not None:
            return session
        time.sleep(0.05)
    raise AssertionError("the NAS never sent its Accounting-Stop")


def assert_cut(controller, session, reason: str) -> None:
    disconnect = Disconnect.objects.get(session__acct_session_id=session.session_id)
    assert disconnect.reason == reason and disconnect.result == DisconnectResult.PENDING
    assert coa.send_pending() == {"ACK": 1}
    disconnect.refresh_from_db()
    assert (disconnect.result, disconnect.attempts) == (DisconnectResult.ACK, 1)
    received = controller.received[-1]
    assert received["code"] == packet.DisconnectRequest
    assert received["User-Name"] == [session.username] and received["Acct-Session-Id"] == [session.session_id]
    assert received["Calling-Station-Id"] == [session.mac] and received["NAS-IP-Address"] == ["127.0.0.1"]
    closed = wait_closed({"acct_session_id": session.session_id})
    assert closed.terminate_cause == "Admin-Reset"
    assert session.session_id not in controller.sessions


def test_cancel_sends_a_disconnect_the_nas_acks_and_its_stop_closes_the_session(hotel, controller):
    ticket = hotel.issue()[0]
    answer, session = controller.connect(ticket.username, ticket.password, "aa-bb-cc-00-00-07", chap=True)
    assert answer.code == "Access-Accept" and session is not None
    assert RadiusSession.objects.get(ticket=ticket).stopped_at is None
    services.cancel_ticket(hotel.actor, ticket)
    # the sender is queued for a worker as soon as the cancel commits
    assert DBTaskResult.objects.filter(task_path="passgate.guest.tasks.send_disconnects",
                                       args_kwargs__args=[hotel.actor.organisation.pk]).exists()
    assert_cut(controller, session, CutReason.CANCELLED)


def test_expiry_cuts_the_session_the_same_way(hotel, controller):
    ticket = hotel.issue(hotel.special, valid_from=timezone.now() - dt.timedelta(hours=1),
                         valid_until=timezone.now() + dt.timedelta(hours=1))[0]
    _, session = controller.connect(ticket.username, ticket.password, "aa-bb-cc-00-00-08")
    assert services.expire_tickets(hotel.actor.organisation, now=timezone.now() + dt.timedelta(hours=2)) == (1, 1)
    assert_cut(controller, session, CutReason.EXPIRED)


def test_used_up_quota_cuts_the_session(hotel, controller):
    ticket = hotel.issue()[0]  # 10 GiB
    _, session = controller.connect(ticket.username, ticket.password, "aa-bb-cc-00-00-09")
    assert controller.traffic(session, upload=2**30, download=4 * 2**30).code == "Accounting-Response"
    assert not Disconnect.objects.exists()
    controller.traffic(session, upload=0, download=5 * 2**30)
    assert_cut(controller, session, CutReason.QUOTA)
    assert not services.sessions_to_cut()


def test_a_quota_running_low_sends_one_coa_the_nas_acks_and_applies(hotel, controller):
    ticket = hotel.issue()[0]  # 10 GiB
    _, session = controller.connect(ticket.username, ticket.password, "aa-bb-cc-00-00-0a")
    assert int(session.limits["ChilliSpot-Max-Total-Octets"][0]) == 2 * 2**30  # 10 GiB − 2 gigawords
    controller.traffic(session, upload=2**29, download=9 * 2**30)  # 9.5 GiB used: 5 % left
    record = Disconnect.objects.get()
    assert (record.kind, record.reason) == (RequestKind.COA, CutReason.QUOTA_LOW)
    assert coa.send_pending() == {"ACK": 1}
    record.refresh_from_db()
    assert (record.result, record.attempts, record.error_cause) == (DisconnectResult.ACK, 1, None)
    received = controller.received[-1]
    assert received["code"] == packet.CoARequest
    assert received["User-Name"] == [session.username] and received["Acct-Session-Id"] == [session.session_id]
    assert received["Calling-Station-Id"] == [session.mac] and received["NAS-IP-Address"] == ["127.0.0.1"]
    # the session's own allowance: its 9.5 GiB plus the 0.5 GiB left = 10 GiB = 2 GiB + 2 gigawords
    assert received["ChilliSpot-Max-Total-Octets"] == [2 * 2**30]
    assert received["ChilliSpot-Max-Total-Gigawords"] == [2]
    assert received["Session-Timeout"] == [record.attributes["Session-Timeout"]]
    # the stand-in honoured it: same session, new limits, still connected
    assert controller.sessions[session.session_id].limits["Session-Timeout"] == received["Session-Timeout"]
    assert session.limits["ChilliSpot-Max-Total-Gigawords"] == [2]
    assert RadiusSession.objects.get(ticket=ticket).stopped_at is None
    controller.traffic(session, upload=0, download=2**20)  # another interim, still low: no second CoA
    assert Disconnect.objects.count() == 1 and not services.sessions_to_cut()


def test_a_session_the_nas_does_not_know_is_answered_nak_503(hotel, nas, controller):
    ticket = hotel.issue()[0]
    nas.acct("Start", ticket.username, "GHOST")  # opened by radclient: unknown to the stand-in
    services.cancel_ticket(hotel.actor, ticket)
    assert coa.send_pending() == {"NAK": 1}
    disconnect = Disconnect.objects.get()
    assert (disconnect.result, disconnect.error_cause) == (DisconnectResult.NAK, 503)


def test_a_silent_nas_is_retried_then_given_up(hotel, nas):
    ticket = hotel.issue()[0]
    nas.acct("Start", ticket.username, "SILENT")
    hotel.nas.coa_port = free_udp_port()  # nobody listens there
    hotel.nas.save(update_fields=["coa_port"])
    services.cancel_ticket(hotel.actor, ticket)
    for _ in range(services.MAX_DISCONNECT_ATTEMPTS):
        assert coa.send_pending(timeout=0.05, retries=0) == {"TIMEOUT": 1}
    disconnect = Disconnect.objects.get()
    assert (disconnect.result, disconnect.attempts) == (DisconnectResult.GAVE_UP, services.MAX_DISCONNECT_ATTEMPTS)
    assert not services.sessions_to_cut()


def test_a_stale_session_frees_its_device_slot(hotel, nas):
    ticket = hotel.issue()[0]  # 2 devices
    for n, mac in enumerate(["aa-00-00-00-00-01", "aa-00-00-00-00-02"]):
        nas.acct("Start", ticket.username, f"st{n}", mac=mac, Acct_Interim_Interval=60)
    assert nas.pap(ticket.username, ticket.password, mac="aa-00-00-00-00-03").code == "Access-Reject"
    # the controller rebooted without telling: no interim for 3 × 60 s
    assert services.close_stale_sessions(hotel.actor.organisation,
                                         now=timezone.now() + dt.timedelta(seconds=181)) == 2
    assert nas.pap(ticket.username, ticket.password, mac="aa-00-00-00-00-03").code == "Access-Accept"


def test_a_call_from_an_address_not_configured_is_refused(hotel, nas, settings):
    ticket = hotel.issue()[0]
    settings.GUEST_RADIUS_FROM = ["192.0.2.10"]  # FreeRADIUS runs elsewhere: 127.0.0.1 is not it
    answer = nas.pap(ticket.username, ticket.password)
    assert answer.code == "Access-Reject"
    assert "Welcome" not in answer.raw
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.NO_USE


def test_passgate_radius_renders_the_database_clients_with_a_fresh_token(hotel, tmp_path):
    target = tmp_path / "fr"
    call_command("radius", "--dir", str(target), "--url", "http://127.0.0.1:8000", "--render-only")
    clients = (target / "clients.conf").read_text()
    assert "ipaddr = 127.0.0.1/32" in clients and 'secret = "radius-secret"' in clients
    token = re.search(r'passgate_token = "([^"]+)"', clients).group(1)
    assert [n.pk for n in services.radius_nas_clients(token)] == [hotel.nas.pk]
    assert 'connect_uri = "http://127.0.0.1:8000"' in (target / "mods-enabled" / "rest").read_text()
    call_command("radius", "--dir", str(target), "--url", "http://127.0.0.1:8000", "--render-only")
    assert services.radius_nas_clients(token) == []  # the previous instance's token is revoked


def test_nas_sim_logs_a_crowd_in_and_accounts_its_traffic(hotel, nas):
    tickets = hotel.issue(count=3)
    out = io.StringIO()
    call_command("guest", "nas-sim", "--organisation", hotel.actor.organisation.code, "--guests", "3",
                 "--secret", SECRET, "--auth-port", str(nas.ports.auth_port), "--acct-port",
                 str(nas.ports.acct_port), "--coa-port", "0", "--interval", "0", "--rounds", "1", stdout=out)
    assert out.getvalue().count("Access-Accept") == 3
    sessions = RadiusSession.objects.filter(ticket__in=tickets)
    assert sessions.count() == 3
    assert all(s.stopped_at is not None and s.output_octets > 0 for s in sessions)  # traffic, then logged out


def test_the_demo_runs_freeradius_against_its_passgate():
    said = []
    assert guest_demo.demo_services("http://127.0.0.1:8000", said.append) == [
        ("freeradius", ["radius", "--url", "http://127.0.0.1:8000"])]
    assert said == []


def test_the_hotspot_login_page_stand_in_logs_a_guest_in_through_freeradius(hotel, nas, sandbox):
    """What a captive portal hands the guest to (CoovaChilli's /logon): real RADIUS behind it."""
    hotspot = sandbox("hotspot")
    hotspot.seed(auth_port=nas.ports.auth_port, acct_port=nas.ports.acct_port, secret=SECRET)
    ticket = hotel.issue()[0]
    page = httpx.get(f"{hotspot.url}/logon", params={"username": ticket.username, "password": ticket.password},
                     timeout=30)
    assert page.status_code == 200 and "You are connected" in page.text and "Session-Timeout" in page.text
    refused = httpx.get(f"{hotspot.url}/logon", params={"username": ticket.username, "password": "nope"},
                        timeout=30)
    assert refused.status_code == 403 and "Login refused" in refused.text
    assert [login["code"] for login in hotspot.state()["data"]["logins"]] == ["Access-Accept", "Access-Reject"]
    assert RadiusSession.objects.filter(ticket=ticket, stopped_at__isnull=True).count() == 1  # its Start arrived
