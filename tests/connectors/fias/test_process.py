"""`passgate pms` as a real process on the test database: it holds the link (a check-in in the
stand-in becomes a ticket), and SIGTERM ends it cleanly, the link marked down."""

from __future__ import annotations

import signal

import pytest

from passgate.connectors.fias.models import PmsLink
from passgate.guest.models import GuestTicket
from tests.jobs.test_processes import Processes

from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_passgate_pms_holds_the_link_and_exits_cleanly_on_sigterm(pms, hotel, tmp_path):
    processes = Processes(tmp_path)
    try:
        proc = processes.start("pms", "--link", str(hotel.link.pk), "--poll", "0.1", "--backoff-max", "0.5")
        wait_for(lambda: pms.state()["linked"], timeout=30, what="the process's link")
        pms.checkin("808", "R-P", "Bertrand")
        ticket = wait_for(lambda: GuestTicket.objects.filter(pms_reservation="R-P").first(), timeout=20,
                          what="the ticket, issued by the process")
        assert (ticket.username, ticket.password) == ("808", "Bertrand")
        assert PmsLink.objects.get().connected

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, processes.logs()
        assert "passgate pms: stopped" in processes.logs()
        assert not PmsLink.objects.get().connected
        wait_for(lambda: not pms.state()["connected"], what="the stand-in to see the link closed")
    finally:
        processes.stop_all()


def test_passgate_pms_names_an_unknown_link(tmp_path):
    processes = Processes(tmp_path)
    proc = processes.start("pms", "--link", "999")
    assert proc.wait(timeout=30) == 2
    assert "no such enabled PMS link" in processes.logs() and "999" in processes.logs()
