"""A quota running low mid-session: one CoA-Request with what is left (accounting JSON as rlm_rest
posts it), never one per interim; a used-up quota still gets its Disconnect-Request."""

from __future__ import annotations

from passgate.guest import services
from passgate.guest.models import CutReason, Disconnect, DisconnectResult, RequestKind

GIB = 2**30
GIB4 = 2**32


def interim(radius, ticket, uid, used: int, seconds: int):
    """An Interim-Update reporting `used` bytes downloaded in all (octets + gigawords)."""
    response = radius.acct("Interim-Update", ticket.username, uid, Acct_Session_Time=seconds,
                           Acct_Output_Octets=used % GIB4, Acct_Output_Gigawords=used // GIB4)
    assert response.status_code == 204
    return response


def test_a_quota_running_low_records_one_coa_with_what_is_left(hotel, radius):
    ticket = hotel.issue()[0]  # 10 GiB, 24 h from first login
    assert radius.acct("Start", ticket.username, "s1").status_code == 204
    interim(radius, ticket, "s1", 8 * GIB, 600)  # 2 GiB left: 20 %, not low yet
    assert not Disconnect.objects.exists()

    interim(radius, ticket, "s1", int(9.5 * GIB), 1200)  # 0.5 GiB left: 5 %, low
    coa = Disconnect.objects.get()
    assert (coa.kind, coa.reason, coa.result) == (RequestKind.COA, CutReason.QUOTA_LOW, DisconnectResult.PENDING)
    ticket.refresh_from_db()
    # what is left, as the NAS counts it: this session's own use plus the ticket's remainder —
    # with one session, the whole 10 GiB quota (2 GiB + 2 gigawords) and 1200 s + the time left
    seconds_left = (ticket.expires_at - coa.requested_at).total_seconds()
    attributes = dict(coa.attributes)
    assert abs(attributes.pop("Session-Timeout") - (1200 + seconds_left)) <= 1
    assert attributes == {"User-Name": ticket.username, "Acct-Session-Id": "S1", "NAS-IP-Address": "127.0.0.1",
                          "Calling-Station-Id": "aa-bb-cc-00-00-01",
                          "ChilliSpot-Max-Total-Octets": (10 * GIB) % GIB4,
                          "ChilliSpot-Max-Total-Gigawords": (10 * GIB) // GIB4}
    [order] = services.sessions_to_cut()
    assert order.kind == RequestKind.COA and order.attributes == coa.attributes

    interim(radius, ticket, "s1", int(9.7 * GIB), 1800)  # still low: no second CoA
    assert Disconnect.objects.count() == 1

    interim(radius, ticket, "s1", 10 * GIB, 2400)  # used up: the Disconnect path, CoA or not
    cut = Disconnect.objects.get(kind=RequestKind.DISCONNECT)
    assert cut.reason == CutReason.QUOTA and "Session-Timeout" not in cut.attributes
    assert Disconnect.objects.count() == 2


def test_the_coa_goes_to_every_open_session_of_the_ticket_once(hotel, radius):
    ticket = hotel.issue()[0]  # 2 devices
    radius.acct("Start", ticket.username, "d1", mac="aa-00-00-00-00-01")
    radius.acct("Start", ticket.username, "d2", mac="aa-00-00-00-00-02")
    radius.acct("Interim-Update", ticket.username, "d1", mac="aa-00-00-00-00-01", Acct_Output_Gigawords=2)  # 8 GiB
    assert not Disconnect.objects.exists()
    radius.acct("Interim-Update", ticket.username, "d2", mac="aa-00-00-00-00-02",
                Acct_Output_Octets=3 * GIB // 2)  # 9.5 GiB in all: 0.5 GiB left
    coas = Disconnect.objects.filter(kind=RequestKind.COA).order_by("session__unique_id")
    assert [c.session.unique_id for c in coas] == ["d1", "d2"]
    left = GIB // 2
    assert coas[0].attributes["ChilliSpot-Max-Total-Octets"] == (8 * GIB + left) % GIB4
    assert coas[0].attributes["ChilliSpot-Max-Total-Gigawords"] == 2
    assert coas[1].attributes["ChilliSpot-Max-Total-Octets"] == 3 * GIB // 2 + left
    assert "ChilliSpot-Max-Total-Gigawords" not in coas[1].attributes
    radius.acct("Interim-Update", ticket.username, "d1", mac="aa-00-00-00-00-01", Acct_Output_Gigawords=2,
                Acct_Output_Octets=1)
    assert Disconnect.objects.count() == 2


def test_quota_rule_bounds():
    assert not services.quota_runs_low(1000, 899)
    assert services.quota_runs_low(1000, 900)
    assert services.quota_runs_low(1000, 999)
    assert not services.quota_runs_low(1000, 1000)  # none left: a Disconnect, not a CoA
    assert not services.quota_runs_low(1000, 1200)
