"""Runs the processes of a passgate installation side by side (web server,
worker, scheduler, partner sandboxes) and stops them all together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str | None = None


def passgate_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "passgate.cli", *args]


def wait_healthy(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def run(services: list[Service], on_ready=None, env: dict[str, str] | None = None) -> int:
    """Start every service; return when one exits or on Ctrl-C / SIGTERM, stopping the rest."""
    procs: list[tuple[Service, subprocess.Popen]] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    child_env = {**os.environ, **(env or {})}
    try:
        for service in services:
            procs.append((service, subprocess.Popen(service.argv, env=child_env, start_new_session=True)))
        for service in services:
            if service.health_url and not wait_healthy(service.health_url):
                print(f"passgate: {service.name} did not answer at {service.health_url}", file=sys.stderr)
                return 1
        if on_ready:
            on_ready()
        while not stopping:
            for service, proc in procs:
                code = proc.poll()
                if code is not None:
                    print(f"passgate: {service.name} exited with code {code}; stopping the others",
                          file=sys.stderr)
                    return code or 1
            time.sleep(0.5)
        return 0
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for _, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
