"""The rlm_rest endpoints at the HTTP level, with request bodies shaped exactly as rlm_rest sends
them (CONTRACTS.md, FreeRADIUS): each case of the issue's list that does not need the real process."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from passgate.guest import services
from passgate.guest.models import Disconnect, GuestStatus, RadiusSession
from passgate.orgs.models import Role
from passgate.orgs.services import Actor, issue_api_token

from .conftest import Radius, reply

GIB4 = 2**32


def test_fresh_ticket_is_accepted_with_its_limits(hotel, radius):
    ticket = hotel.issue()[0]
    response = radius.authorize(ticket.username)
    assert response.status_code == 200
    body = response.json()
    assert body["control:Cleartext-Password"] == {"op": ":=", "value": ticket.password, "do_xlat": False}
    values = reply(response)
    # 24 h counted from the first login, which has not happened yet: the whole day
    assert int(values["reply:Session-Timeout"]) == 24 * 3600
    assert values["reply:WISPr-Bandwidth-Max-Up"] == "1000000"
    assert values["reply:WISPr-Bandwidth-Max-Down"] == "5000000"
    assert values["reply:Idle-Timeout"] == "600"
    # 10 GiB: 2 gigawords + 2 GiB in the 32-bit attribute
    assert values["reply:ChilliSpot-Max-Total-Gigawords"] == "2"
    assert values["reply:ChilliSpot-Max-Total-Octets"] == str(2 * 2**30)
    assert values["reply:Reply-Message"].startswith("Welcome")


def test_session_timeout_counts_down_after_first_login(hotel, radius):
    ticket = hotel.issue()[0]
    assert radius.post("post-auth", User_Name=ticket.username).status_code == 204
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.IN_USE and ticket.first_login_at is not None
    assert ticket.expires_at == ticket.first_login_at + dt.timedelta(hours=24)
    timeout = int(reply(radius.authorize(ticket.username))["reply:Session-Timeout"])
    left = (ticket.expires_at - timezone.now()).total_seconds()
    assert left - 5 <= timeout <= left


def test_unknown_user_is_404(radius, hotel):
    response = radius.authorize("nobody")
    assert response.status_code == 404
    assert "Unknown" in reply(response)["reply:Reply-Message"]


def test_expired_ticket_rejected_with_a_message(hotel, radius):
    ticket = hotel.issue(hotel.special, valid_from=timezone.now() - dt.timedelta(days=2),
                         valid_until=timezone.now() - dt.timedelta(seconds=1))[0]
    response = radius.authorize(ticket.username)
    assert response.status_code == 401
    assert "expired" in reply(response)["reply:Reply-Message"]


def test_cancelled_ticket_rejected_with_a_message(hotel, radius):
    ticket = hotel.issue()[0]
    services.cancel_ticket(hotel.actor, ticket)
    response = radius.authorize(ticket.username)
    assert response.status_code == 401
    assert "cancelled" in reply(response)["reply:Reply-Message"]


def test_third_device_refused_reconnecting_device_accepted(hotel, radius):
    ticket = hotel.issue()[0]  # 2 devices
    for n, mac in enumerate(["aa-00-00-00-00-01", "aa-00-00-00-00-02"]):
        assert radius.authorize(ticket.username, mac=mac).status_code == 200
        assert radius.acct("Start", ticket.username, f"s{n}", mac=mac).status_code == 204
    third = radius.authorize(ticket.username, mac="aa-00-00-00-00-03")
    assert third.status_code == 401
    assert "2 devices" in reply(third)["reply:Reply-Message"]
    assert radius.authorize(ticket.username, mac="aa-00-00-00-00-02").status_code == 200
    # one device leaves: the third comes in
    radius.acct("Stop", ticket.username, "s0", mac="aa-00-00-00-00-01", Acct_Terminate_Cause="User-Request")
    assert radius.authorize(ticket.username, mac="aa-00-00-00-00-03").status_code == 200


def test_gigawords_add_up_past_4_gib(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "big")
    radius.acct("Interim-Update", ticket.username, "big", Acct_Input_Octets=5, Acct_Input_Gigawords=1,
                Acct_Output_Octets=7, Acct_Output_Gigawords=2, Acct_Session_Time=60)
    session = RadiusSession.objects.get(unique_id="big")
    assert (session.input_octets, session.output_octets) == (GIB4 + 5, 2 * GIB4 + 7)
    radius.acct("Stop", ticket.username, "big", Acct_Input_Octets=9, Acct_Input_Gigawords=1,
                Acct_Output_Octets=1, Acct_Output_Gigawords=3, Acct_Session_Time=120)
    row = services.tickets_with_usage(hotel.actor.organisation).get(pk=ticket.pk)
    assert (row.upload, row.download, row.session_time) == (GIB4 + 9, 3 * GIB4 + 1, 120)
    # 16 GiB used, past the 10 GiB quota
    assert radius.authorize(ticket.username).status_code == 401


def test_start_marks_first_login_and_duplicate_start_changes_nothing(hotel, radius):
    ticket = hotel.issue()[0]
    assert radius.acct("Start", ticket.username, "dup").status_code == 204
    radius.acct("Interim-Update", ticket.username, "dup", Acct_Input_Octets=100, Acct_Session_Time=30)
    assert radius.acct("Start", ticket.username, "dup").status_code == 204
    session = RadiusSession.objects.get(unique_id="dup")
    assert RadiusSession.objects.count() == 1 and session.input_octets == 100
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.IN_USE


def test_interim_for_closed_session_does_not_reopen_it(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "late")
    radius.acct("Stop", ticket.username, "late", Acct_Input_Octets=50, Acct_Session_Time=10)
    assert radius.acct("Interim-Update", ticket.username, "late", Acct_Input_Octets=40).status_code == 204
    session = RadiusSession.objects.get(unique_id="late")
    assert session.stopped_at is not None and session.input_octets == 50


def test_interim_without_start_opens_the_session(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Interim-Update", ticket.username, "lost-start", Acct_Input_Octets=10, Acct_Session_Time=300)
    session = RadiusSession.objects.get(unique_id="lost-start")
    assert session.stopped_at is None and session.session_time == 300


def test_accounting_on_closes_that_nas_sessions_only(hotel, radius):
    other_nas = services.create_nas_client(hotel.actor, hotel.location, name="Pool AP", network="10.9.0.0/24",
                                           secret="s2")
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "a")
    hotel.radius(nas_ip="10.9.0.7").acct("Start", ticket.username, "b", mac="aa-00-00-00-00-09")
    assert radius.post("accounting", Acct_Status_Type="Accounting-On").status_code == 204
    a, b = RadiusSession.objects.get(unique_id="a"), RadiusSession.objects.get(unique_id="b")
    assert a.stopped_at is not None and a.terminate_cause == "NAS-Reboot"
    assert b.stopped_at is None and b.nas == other_nas


def test_stale_session_frees_its_slot(hotel, radius):
    ticket = hotel.issue(hotel.special, valid_from=timezone.now() - dt.timedelta(hours=1),
                         valid_until=timezone.now() + dt.timedelta(hours=5))[0]  # 1 device
    radius.acct("Start", ticket.username, "old", mac="aa-00-00-00-00-01", Acct_Interim_Interval=60)
    assert radius.authorize(ticket.username, mac="aa-00-00-00-00-02").status_code == 401
    later = timezone.now() + dt.timedelta(seconds=181)
    # the slot is free for authorize as soon as 3 intervals pass, before the sweeper runs
    assert services.authorize(hotel.nas, ticket.username, "aa-00-00-00-00-02", now=later).session_timeout
    assert services.close_stale_sessions(hotel.actor.organisation, now=later) == 1
    session = RadiusSession.objects.get(unique_id="old")
    assert session.terminate_cause == "Stale" and session.stopped_at == session.updated_at


def test_cancel_owes_a_disconnect_with_the_session_attributes(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "cut-me", Framed_IP_Address="10.0.0.50")
    cuts = services.cancel_ticket(hotel.actor, ticket)
    assert len(cuts) == 1
    orders = services.sessions_to_cut(hotel.actor.organisation)
    assert [(o.nas_host, o.port, o.secret) for o in orders] == [("127.0.0.1", 3799, "radius-secret")]
    assert orders[0].attributes == {"User-Name": ticket.username, "Acct-Session-Id": "CUT-ME",
                                    "NAS-IP-Address": "127.0.0.1", "Calling-Station-Id": "aa-bb-cc-00-00-01"}
    done = services.record_disconnect_answer(orders[0].disconnect_id, "ACK")
    assert done.result == "ACK" and done.attempts == 1
    assert services.sessions_to_cut(hotel.actor.organisation) == []
    # the NAS then sends its Accounting-Stop
    radius.acct("Stop", ticket.username, "cut-me", Acct_Terminate_Cause="Admin-Reset")
    assert RadiusSession.objects.get(unique_id="cut-me").terminate_cause == "Admin-Reset"


def test_nak_with_error_cause_and_timeouts_are_recorded(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "n1")
    (cut,) = services.cancel_ticket(hotel.actor, ticket)
    for _ in range(services.MAX_DISCONNECT_ATTEMPTS - 1):
        assert services.record_disconnect_answer(cut.pk, "TIMEOUT").result == "PENDING"
    assert services.record_disconnect_answer(cut.pk, "TIMEOUT").result == "GAVE_UP"
    ticket2 = hotel.issue()[0]
    radius.acct("Start", ticket2.username, "n2", mac="aa-00-00-00-00-07")
    (cut2,) = services.cancel_ticket(hotel.actor, ticket2)
    nak = services.record_disconnect_answer(cut2.pk, "NAK", error_cause=503)
    assert (nak.result, nak.error_cause) == ("NAK", 503)


def test_expiry_and_quota_cut_sessions(hotel, radius):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "exp")
    ticket.refresh_from_db()
    expired, cuts = services.expire_tickets(hotel.actor.organisation, now=ticket.expires_at + dt.timedelta(seconds=1))
    assert (expired, cuts) == (1, 1)
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.EXPIRED
    assert Disconnect.objects.get(session__unique_id="exp").reason == "EXPIRED"

    quota = hotel.issue()[0]  # 10 GiB
    radius.acct("Start", quota.username, "q", mac="aa-00-00-00-00-05")
    radius.acct("Interim-Update", quota.username, "q", mac="aa-00-00-00-00-05", Acct_Output_Gigawords=2)
    assert not Disconnect.objects.filter(session__unique_id="q").exists()
    radius.acct("Interim-Update", quota.username, "q", mac="aa-00-00-00-00-05", Acct_Output_Gigawords=3)
    assert Disconnect.objects.get(session__unique_id="q").reason == "QUOTA"


def test_unconfigured_address_or_token_refused(hotel, radius):
    ticket = hotel.issue()[0]
    assert hotel.radius(nas_ip="192.0.2.1").authorize(ticket.username).status_code == 403
    assert Radius("pg_wrong").authorize(ticket.username).status_code == 403
    assert hotel.radius(remote="192.0.2.9").authorize(ticket.username).status_code == 403
    acct = hotel.radius(nas_ip="192.0.2.1").acct("Start", ticket.username, "x")
    assert acct.status_code == 403 and not RadiusSession.objects.exists()


def test_another_organisations_token_sees_nothing(hotel, radius, other_org):
    ticket = hotel.issue()[0]
    other = Actor.system(other_org)
    loc = services.create_location(other, code="L", name="Other", ssid="O", portal_url="https://o.example/")
    services.create_nas_client(other, loc, name="their NAS", network="127.0.0.1", secret="x")
    _, token = issue_api_token(other, "fr", Role.ACCESS_CONTROL)
    assert Radius(token).authorize(ticket.username).status_code == 404


def test_ticket_of_another_location_refused(hotel, radius):
    elsewhere = services.create_location(hotel.actor, code="POOL", name="Pool", ssid="Pool",
                                         portal_url="https://portal.example/pool")
    services.create_nas_client(hotel.actor, elsewhere, name="Pool AP", network="10.8.0.0/16", secret="s")
    ticket = hotel.issue()[0]
    response = hotel.radius(nas_ip="10.8.1.1").authorize(ticket.username)
    assert response.status_code == 401 and "location" in reply(response)["reply:Reply-Message"]


def test_username_with_quotes_and_xlat_reaches_passgate_unchanged(hotel, radius):
    name, password = "a\"b'%{exec:/bin/id}", "p%{User-Password}\""
    ticket = hotel.issue(hotel.special, username=name, password=password, valid_from=timezone.now(),
                         valid_until=timezone.now() + dt.timedelta(hours=1))[0]
    response = radius.authorize(name)
    assert response.status_code == 200
    body = response.json()
    assert body["control:Cleartext-Password"] == {"op": ":=", "value": password, "do_xlat": False}
    assert all(v["do_xlat"] is False for v in body.values())
    radius.acct("Start", name, "q1")
    assert RadiusSession.objects.get(unique_id="q1").ticket == ticket


def test_each_endpoint_answers_in_few_queries(hotel, radius, django_assert_max_num_queries):
    ticket = hotel.issue()[0]
    radius.acct("Start", ticket.username, "qq")
    with django_assert_max_num_queries(2):
        assert radius.authorize(ticket.username).status_code == 200
    with django_assert_max_num_queries(2):
        assert radius.post("post-auth", User_Name=ticket.username).status_code == 204
    # the NAS check, and the session update whose RETURNING brings what the quota check needs
    with django_assert_max_num_queries(2):
        assert radius.acct("Interim-Update", ticket.username, "qq", Acct_Input_Octets=1).status_code == 204


def test_garbage_bodies_are_refused_not_500(hotel, radius):
    c = radius.client
    for body in (b"not json", b"[1,2]", b"\xff\xfe"):
        r = c.post("/radius/authorize", body, content_type="application/json", HTTP_X_PASSGATE_TOKEN=hotel.token)
        assert r.status_code == 400
    r = radius.post("accounting", Acct_Status_Type="Interim-Update", Acct_Input_Octets="lots")
    assert r.status_code == 204


def test_only_a_first_login_asks_freeradius_for_post_auth(hotel, radius):
    ticket = hotel.issue()[0]
    flag = "control:Tmp-String-9"  # the virtual server calls post-auth only when it is set
    assert radius.authorize(ticket.username).json()[flag]["value"] == "passgate-first-login"
    radius.post("post-auth", User_Name=ticket.username)
    assert flag not in radius.authorize(ticket.username).json()


def test_the_fast_path_serves_only_the_radius_endpoints(hotel):
    from .conftest import WsgiClient

    client = WsgiClient("127.0.0.1")
    assert client.http.get("/radius/authorize").status_code == 405
    assert client.http.get("/healthz").status_code == 200  # everything else is Django


def test_a_crash_in_the_fast_path_is_a_500_for_rlm_rest_not_a_traceback(hotel, monkeypatch, caplog):
    from passgate.guest import freeradius

    from .conftest import WsgiClient

    def boom(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "authorize", boom)
    response = WsgiClient("127.0.0.1").post("/radius/authorize", b"{}", HTTP_X_PASSGATE_TOKEN=hotel.token,
                                            HTTP_X_PASSGATE_NAS="127.0.0.1")
    assert response.status_code == 500 and response.content == b""  # rlm_rest: fail, the NAS retries
    assert "RADIUS /radius/authorize failed" in caplog.text
    assert freeradius.ENDPOINTS["/radius/authorize"] is freeradius.authorize
