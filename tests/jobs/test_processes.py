"""Real processes: workers and schedulers started as `passgate worker` /
`passgate scheduler` on the test database, a worker killed with SIGKILL. On
SQLite too (a file in WAL mode, IMMEDIATE write transactions: writers queue)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from passgate.jobs import scheduler, services
from passgate.jobs.models import Execution, Schedule

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def process_env(lease: float = 2.0) -> dict[str, str]:
    """The environment of a child process: the TEST database, never the developer one."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PASSGATE_SQLITE_PATH"}}
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{user}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        env["PASSGATE_SQLITE_PATH"] = str(db["NAME"])
    env.update({
        "PASSGATE_JOBS_LEASE_SECONDS": str(lease),
        "PASSGATE_JOBS_BUSY_RETRY_SECONDS": "0.5",
        "PASSGATE_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "PASSGATE_SECRET_KEY": settings.SECRET_KEY,
        "PASSGATE_FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "PASSGATE_DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Processes:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str, lease: float = 2.0) -> subprocess.Popen:
        log = self.tmp_path / f"{args[0]}-{len(self.procs)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "passgate.cli", *args], env=process_env(lease),
                                stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=str(settings.PROJECT_DIR))
        self.procs.append((proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self.procs)

    def stop_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def wait_until(predicate, timeout: float, what: str, procs: Processes | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + (procs.logs() if procs else ""))
        time.sleep(0.1)


def test_a_worker_killed_mid_run_leaves_an_error_and_the_next_run_proceeds(processes, echo, admin_actor,
                                                                           echo_schedule, catalogue):
    catalogue.sell_concert(2)
    services.update_schedule(admin_actor, echo_schedule, parameters_text='{"hold_seconds": 120}')
    Schedule.objects.filter(pk=echo_schedule.pk).update(next_run_at=None)
    worker = processes.start("worker", "--interval", "0.2", lease=2.0)
    services.run_now(admin_actor, echo_schedule)
    wait_until(lambda: Execution.objects.filter(status="RUNNING").exists(), 60, "the run to start", processes)
    time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed = Execution.objects.get(status="RUNNING")
    assert killed.worker.endswith(f":{worker.pid}")

    # The lease of a dead worker is not renewed; once it expires the scheduler closes the run.
    wait_until(lambda: Schedule.objects.get(pk=echo_schedule.pk).lease_expires_at < timezone.now(), 10,
               "the lease to expire")
    services.update_schedule(admin_actor, echo_schedule, parameters_text='{"hold_seconds": 0}')
    Schedule.objects.filter(pk=echo_schedule.pk).update(next_run_at=timezone.now())
    assert scheduler.tick() == [echo_schedule.pk]
    killed.refresh_from_db()
    assert killed.status == "ERROR" and killed.error == "worker lost" and killed.ended_at is not None
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.get(pk=killed.task_id).status == "FAILED"  # not left RUNNING in the queue

    # The next run proceeds, in a new worker process.
    again = processes.start("worker", "--batch", "--interval", "0")
    again.wait(timeout=60)
    following = Execution.objects.exclude(pk=killed.pk).get()
    assert following.status == "OK", processes.logs()
    assert following.done == 2


def test_two_schedulers_and_two_workers_never_run_a_schedule_twice_at_once_nor_skip_a_due_run(
        processes, echo, admin_actor, echo_interface):
    schedules = [services.create_schedule(admin_actor, interface=echo_interface, function="ECHO_TICKETS",
                                          name=f"s{i}", parameters_text='{"hold_seconds": 0.4}')
                 for i in range(3)]
    # only this test's schedules: the schedulers also give the organisation its built-in ones
    mine = Schedule.objects.filter(pk__in=[s.pk for s in schedules])
    runs_of_mine = Execution.objects.filter(schedule__in=schedules)
    mine.update(next_run_at=None)
    for _ in range(2):
        processes.start("scheduler", "--interval", "0.2", lease=5.0)
        processes.start("worker", "--interval", "0.1", lease=5.0)
    rounds = 3
    for round_no in range(1, rounds + 1):
        if round_no == 1:  # a manual run on top of the due one: it must wait, not overlap nor vanish
            for schedule in schedules:
                services.run_now(admin_actor, schedule)
        mine.update(next_run_at=timezone.now())
        total = (round_no + 1) * len(schedules)
        wait_until(lambda n=total: runs_of_mine.exclude(status="RUNNING").count() == n
                   and not mine.filter(next_run_at__lte=timezone.now()).exists(), 90,
                   f"round {round_no}", processes)
    time.sleep(1.0)  # anything extra would show up now
    for schedule in schedules:
        runs = list(Execution.objects.filter(schedule=schedule).order_by("started_at"))
        assert len(runs) == rounds + 1, processes.logs()
        assert all(r.status == "OK" for r in runs), [(r.status, r.error) for r in runs]
        for before, after in zip(runs, runs[1:], strict=False):
            assert after.started_at >= before.ended_at, "two runs of one schedule overlapped"
        assert {r.trigger for r in runs} == {"SCHEDULER", "MANUAL"}
    worker_pids = {str(proc.pid) for proc, log in processes.procs if log.name.startswith("worker-")}
    assert {r.worker.rsplit(":", 1)[-1] for r in runs_of_mine} <= worker_pids
