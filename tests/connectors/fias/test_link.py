"""The FIAS link over real TCP against the PMS stand-in: check-in, replay, check-out cutting a live
session, room move, postings booked once across a dropped link, refusals, resync after an outage,
garbage on the line."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
import zoneinfo
from decimal import Decimal

import pytest

from passgate.connectors.fias import services
from passgate.connectors.fias.models import PmsLink, PmsPosting, PostingStatus
from passgate.guest import services as guest
from passgate.guest.models import CutReason, Disconnect, GuestStatus, GuestTicket, TicketType

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def stay(reservation: str) -> GuestTicket | None:
    return GuestTicket.objects.filter(type=TicketType.PMS, pms_reservation=reservation).order_by("-pk").first()


def linked(pms) -> bool:
    return pms.state()["linked"]


def test_the_link_handshake_and_a_check_in_issue_a_ticket_with_room_and_name(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms), what="LD/LR/LA")
    received = pms.state()["received"]
    assert received[0].startswith("LD|") and "|V#passgate-1|IFWW|" in received[0]
    assert "LR|RIGI|FLRNG#GNGFGLGAGD|" in received and "LR|RIPA|FLP#ASRNDATICT|" in received
    wait_for(lambda: "DR|" in "".join(pms.state()["received"]), what="a resync request")
    wait_for(lambda: PmsLink.objects.get().connected, what="link marked connected")

    departure = dt.date.today() + dt.timedelta(days=2)
    pms.checkin("214", "R-77", "Lefèvre", first_name="Anne", departure=departure.strftime("%y%m%d"))
    ticket = wait_for(lambda: stay("R-77"), what="the stay's ticket")
    assert (ticket.username, ticket.password) == ("214", "Lefèvre")
    assert (ticket.room_number, ticket.last_name, ticket.user_id) == ("214", "Lefèvre", "R-77")
    assert ticket.status == GuestStatus.NO_USE and ticket.method == hotel.stay
    # until the departure day at the hotel's check-out hour (11:00), in the location's time zone
    assert ticket.expires_at == dt.datetime.combine(departure, dt.time(11), tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert guest.hotel_ticket(hotel.location, "214", "lefevre") == ticket


def test_the_same_check_in_replayed_gives_one_ticket(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("101", "R-1", "Martin")
    first = wait_for(lambda: stay("R-1"))
    pms.post("resync")  # the PMS lists the guest again (GI inside DS … DE)
    pms.post("resync")
    pms.checkin("101", "R-1", "Martin")  # and a GI sent twice
    pms.checkin("102", "R-END", "Sentinel")  # records are handled in order: once this one is in, all are
    wait_for(lambda: stay("R-END"), what="the records before the sentinel")
    assert GuestTicket.objects.filter(pms_reservation="R-1").count() == 1
    assert stay("R-1").pk == first.pk and stay("R-1").status == GuestStatus.NO_USE


def test_a_check_out_expires_the_ticket_and_cuts_its_live_session(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("305", "R-9", "Garcia")
    ticket = wait_for(lambda: stay("R-9"))
    uid = uuid.uuid4().hex
    guest.account(hotel.nas, guest.AccountingRecord(status_type="Start", unique_id=uid, username=ticket.username,
                                                    acct_session_id="S9", nas_ip="127.0.0.1",
                                                    calling_station="aa-bb-cc-00-00-09"))
    assert ticket.sessions.filter(stopped_at__isnull=True).count() == 1

    pms.post("checkout", reservation="R-9")
    cut = wait_for(lambda: Disconnect.objects.filter(session__unique_id=uid).first(), what="a Disconnect")
    assert cut.reason == CutReason.EXPIRED and cut.attributes["User-Name"] == "305"
    ticket.refresh_from_db()
    assert ticket.status == GuestStatus.EXPIRED and ticket.username == "305~R-9"  # the room's name is free again

    pms.checkin("305", "R-10", "Nakamura")  # the room's next guest gets the room's username
    assert wait_for(lambda: stay("R-10")).username == "305"


def test_a_room_move_updates_the_stay(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("101", "R-2", "Petit")
    ticket = wait_for(lambda: stay("R-2"))
    pms.post("move", reservation="R-2", room="412")
    wait_for(lambda: stay("R-2").room_number == "412", what="the move")
    moved = stay("R-2")
    assert moved.pk == ticket.pk and moved.username == "412" and moved.status == GuestStatus.NO_USE
    assert guest.hotel_ticket(hotel.location, "412", "Petit") == moved
    assert guest.hotel_ticket(hotel.location, "101", "Petit") is None


def test_two_live_stays_in_one_room_get_distinct_usernames(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("220", "R-A", "Roux")
    wait_for(lambda: stay("R-A"))
    pms.checkin("220", "R-B", "Simon")
    assert wait_for(lambda: stay("R-B")).username == "220-2"
    assert stay("R-A").username == "220"


def charge(hotel, room="101", last_name="Martin", days=2) -> PmsPosting:
    today = dt.date.today()
    return services.request_posting(services.Charge(
        location=hotel.location, method=hotel.day, amount=Decimal("4.50") * days, currency="EUR", room_number=room,
        last_name=last_name, first_day=today, last_day=today + dt.timedelta(days=days - 1)))


def test_a_posting_retried_after_a_dropped_link_is_booked_once(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("101", "R-5", "Martin")
    wait_for(lambda: stay("R-5"))
    pms.post("answers", mode="HOLD")  # the PMS takes the PS but does not answer yet
    posting = charge(hotel)
    assert posting.sequence == 1 and posting.status == PostingStatus.PENDING
    wait_for(lambda: pms.state()["postings"], what="the PS")
    # the link marks it SENT once the PS is written: the stand-in may have it a moment before
    wait_for(lambda: PmsPosting.objects.get().status == PostingStatus.SENT, what="the posting marked SENT")

    pms.post("drop")  # the link drops before PA
    wait_for(lambda: len(pms.state()["postings"]) == 2, what="the PS sent again after the reconnect")
    assert pms.state()["connections"] == 2
    assert [p["P#"] for p in pms.state()["postings"]] == ["1", "1"]  # the same P#, not a new posting
    assert pms.state()["postings"][0]["TA"] == "900"
    assert not GuestTicket.objects.filter(batch__client_reference__startswith="pms-posting").exists()

    pms.post("answers", mode="OK")
    pms.post("release")  # PA OK for each PS it holds: twice for P#1 — the second one late
    wait_for(lambda: PmsPosting.objects.get().status == PostingStatus.OK, what="PA OK")
    wait_for(lambda: pms.state()["booked"]["1"]["times"] == 2)
    posting = PmsPosting.objects.get()
    assert posting.attempts == 2 and posting.ticket is not None
    assert pms.state()["booked"] == {"1": {"P#": "1", "answer": "OK", "times": 2}}  # booked once by the PMS
    bought = GuestTicket.objects.filter(batch__client_reference=f"pms-posting:{hotel.link.pk}:1")
    assert bought.count() == 1 and bought.get() == posting.ticket
    assert posting.ticket.type == TicketType.PMS and posting.ticket.price == Decimal("9.00")


def test_a_refused_posting_issues_no_ticket_and_keeps_the_reason(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("102", "R-6", "Dubois")
    wait_for(lambda: stay("R-6"))
    pms.post("answers", mode="REFUSE", code="NG", text="no credit allowed")
    charge(hotel, room="102", last_name="dubois")
    posting = wait_for(lambda: PmsPosting.objects.filter(status=PostingStatus.REFUSED).first(), what="PA refused")
    assert posting.ticket is None and posting.answer == "NG no credit allowed"
    assert GuestTicket.objects.count() == 1  # the stay's own ticket only


def test_a_resync_after_an_outage_checks_out_the_guests_who_left(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("101", "R-S1", "Martin")
    pms.checkin("102", "R-S2", "Dubois")
    wait_for(lambda: stay("R-S1") and stay("R-S2"))
    pms.post("down", down=True)  # the link is cut and stays down
    wait_for(lambda: not PmsLink.objects.get().connected, what="link marked down")
    pms.post("checkout", reservation="R-S2")  # nobody hears this GO
    pms.checkin("103", "R-S3", "Leroy")  # nor this GI
    assert stay("R-S2").status == GuestStatus.NO_USE

    pms.post("down", down=False)  # back: LS, DR, then DS GI GI DE
    wait_for(lambda: stay("R-S2").status == GuestStatus.EXPIRED, what="R-S2 checked out by the resync")
    assert stay("R-S1").status == GuestStatus.NO_USE
    assert wait_for(lambda: stay("R-S3")).status == GuestStatus.NO_USE
    assert PmsLink.objects.get().last_resync_at is not None


def test_garbage_on_the_link_is_logged_and_the_link_survives(pms, hotel, start_link, caplog):
    caplog.set_level(logging.WARNING, logger="passgate.fias")
    start_link()
    wait_for(lambda: linked(pms))
    connections = pms.state()["connections"]
    pms.post("raw", hex=(b"\xff\xfejunk" + b"\x02ZZ|bad|\x03" + b"\x02GI|RN1|\x03").hex())
    pms.checkin("501", "R-G", "Moreau")
    wait_for(lambda: stay("R-G"), what="a check-in after the garbage")
    assert pms.state()["connections"] == connections  # the same connection
    text = caplog.text
    assert "skipped" in text and "bytes outside a frame" in text and "unknown record id" in text
    assert "G#" in text


def test_postings_wait_while_the_link_is_down_and_go_once_it_is_up(pms, hotel, start_link):
    pms.checkin("101", "R-W", "Martin")  # in house before passgate connects: the resync brings it
    link = start_link()
    wait_for(lambda: stay("R-W"))
    link.stop()
    posting = charge(hotel)
    assert PmsPosting.objects.get(pk=posting.pk).status == PostingStatus.PENDING
    start_link()
    wait_for(lambda: PmsPosting.objects.get(pk=posting.pk).status == PostingStatus.OK, what="posted after restart")
    assert [p["P#"] for p in pms.state()["postings"]] == ["1"]


def test_la_is_sent_as_keep_alive(pms, hotel, start_link):
    start_link(keepalive=0.3)
    wait_for(lambda: sum(r.startswith("LA|") for r in pms.state()["received"]) >= 4, what="keep-alive LAs")
    wait_for(lambda: PmsLink.objects.get().last_alive_at is not None, what="the PMS's LA recorded")


def test_after_le_postings_wait_for_the_next_link(pms, hotel, start_link):
    start_link()
    wait_for(lambda: linked(pms))
    pms.checkin("101", "R-E", "Martin")
    wait_for(lambda: stay("R-E"))
    pms.post("end")  # LE: the PMS ends the link but the socket stays open for now
    posting = charge(hotel)
    pms.checkin("102", "R-E2", "Dubois")  # records still flow: once this one is in, LE was handled
    wait_for(lambda: stay("R-E2"))
    time.sleep(0.3)  # several polls of the link
    assert PmsPosting.objects.get(pk=posting.pk).status == PostingStatus.PENDING
    assert pms.state()["postings"] == []
    pms.post("drop")  # reconnect: LS … then the buffered posting goes
    wait_for(lambda: PmsPosting.objects.get(pk=posting.pk).status == PostingStatus.OK, what="posted after LE")
