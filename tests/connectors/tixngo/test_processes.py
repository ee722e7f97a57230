"""A real worker process SIGKILLed in the middle of a TIXnGO run; the rerun ends in the state a
run never killed would have reached (DESIGN §5: nothing lost, nothing doubled)."""

from __future__ import annotations

import signal
import time

import pytest
from django.utils import timezone

from passgate.connectors.tixngo.functions import PAGINATION_KEY
from passgate.connectors.tixngo.models import WalletLogEntry, WalletTicket
from passgate.jobs import services
from passgate.jobs.models import Execution, ExecutionItem, Schedule, ScheduleState
from passgate.sales.models import Ticket
from tests.jobs.test_processes import Processes, wait_until

from .conftest import run
from .test_injection import sell

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def kill_mid_run(processes, admin_actor, schedule, until) -> Execution:
    """Run the schedule in a worker process, SIGKILL it once `until()` holds, wait for its lease to lapse."""
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=None)
    worker = processes.start("worker", "--interval", "0.1", lease=2.0)
    services.run_now(admin_actor, schedule)
    wait_until(until, 60, "the run to be under way", processes)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed = Execution.objects.get(schedule=schedule, status="RUNNING")
    wait_until(lambda: Schedule.objects.get(pk=schedule.pk).lease_expires_at < timezone.now(), 10,
               "the lease to expire")
    return killed


def test_a_worker_killed_mid_injection_rerun_injects_every_ticket_exactly_once(processes, tix, schedule, catalogue,
                                                                              buyer, admin_actor):
    tickets = sell(catalogue, 30, buyer)
    injection = schedule("TIXNGO_TICKET_INJECTION")
    tix.faults(latency_ms=150)
    killed = kill_mid_run(processes, admin_actor, injection,
                          lambda: ExecutionItem.objects.filter(execution__schedule=injection).count() >= 6)
    tix.clear_faults()
    assert 0 < WalletTicket.objects.count() < 30  # really stopped mid-way
    rerun = run(injection)
    killed.refresh_from_db()
    assert killed.status == "ERROR" and killed.error == "worker lost"
    assert rerun.status == "OK", rerun.error
    injected = tix.injected_ids()
    assert sorted(injected, key=int) == [str(t.pk) for t in tickets]  # none missed, none twice
    assert tix.data()["counts"]["INJECTED"] == 30
    assert Ticket.objects.filter(status="PRINTED").count() == 30
    assert WalletTicket.objects.filter(wallet_status="INJECTED").count() == 30


def test_feedback_killed_mid_read_resumes_exactly_at_its_pagination_key(processes, tix, schedule, catalogue, buyer,
                                                                        admin_actor):
    sell(catalogue, 3, buyer)
    run(schedule("TIXNGO_TICKET_INJECTION"))
    feedback = schedule("TIXNGO_FEEDBACK", batch_size=2)
    assert run(feedback).selected == 2
    key = ScheduleState.objects.get(schedule=feedback, key=PAGINATION_KEY).value
    tix.faults(latency_ms=3000)
    started = time.monotonic()
    kill_mid_run(processes, admin_actor, feedback,
                 lambda: Execution.objects.filter(schedule=feedback, status="RUNNING").exists()
                 and time.monotonic() - started > 1)
    tix.clear_faults()
    assert ScheduleState.objects.get(schedule=feedback, key=PAGINATION_KEY).value == key
    assert WalletLogEntry.objects.count() == 2
    while run(feedback).selected:
        pass
    stored = list(WalletLogEntry.objects.order_by("id").values_list("tx_hash", "tx_state"))
    assert stored == [(e["txHash"], e["txState"]) for e in tix.log()][:len(stored)]
    assert len(stored) == len(set(stored)) >= 6
