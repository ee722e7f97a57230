"""`passgate demo` itself, as a person starts it (`make demo`): a subprocess on a free port with its
own data directory (SQLite), its partner sandboxes, FreeRADIUS, the worker and the scheduler, and
e-mail going to a real SMTP sink the test reads. The browser tests of the guest portal drive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from sandboxes.framework import free_port
from tests.mail_sink import Inbox

VENV_BIN = Path(sys.executable).parent


@dataclass
class RunningDemo:
    url: str
    data_dir: Path
    inbox: Inbox
    process: subprocess.Popen
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")


def start_demo(data_dir: Path, timeout: float = 240) -> tuple[RunningDemo, Controller]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(PASSGATE_DATA_DIR=str(data_dir), PASSGATE_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
               PASSGATE_EMAIL_HOST="127.0.0.1", PASSGATE_EMAIL_PORT=str(smtp.port), PYTHONUNBUFFERED="1")
    output = data_dir / "demo.log"
    process = subprocess.Popen([str(VENV_BIN / "passgate"), "demo", "--port", str(port)], env=env,
                               stdout=output.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    demo = RunningDemo(f"http://127.0.0.1:{port}", data_dir, inbox, process, output)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"passgate demo exited {process.returncode}:\n{demo.log()}")
        if "passgate is running" in demo.log():
            break
        time.sleep(0.5)
    else:
        stop_demo(demo, smtp)
        raise RuntimeError(f"passgate demo did not get ready in {timeout} s:\n{demo.log()}")
    httpx.get(demo.url + "/healthz", timeout=10).raise_for_status()
    return demo, smtp


def stop_demo(demo: RunningDemo, smtp: Controller) -> None:
    try:
        os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C does: the supervisor stops everything
        demo.process.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(demo.process.pid, signal.SIGKILL)
    smtp.stop()
