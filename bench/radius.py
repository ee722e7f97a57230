#!/usr/bin/env python
"""RADIUS benchmark: Access-Requests (PAP) and accounting Interim-Updates through the real
FreeRADIUS → rlm_rest → passgate (gunicorn; PostgreSQL, or SQLite with --db sqlite).

For each size (10^4 and 10^5 issued guest tickets by default) it issues the tickets, starts
gunicorn and FreeRADIUS (rendered by passgate.guest.radius_config) on free loopback ports, and
drives FreeRADIUS with `--concurrency` requests in flight (one UDP socket each, pyrad-encoded
packets, each request timed from send to answer), then prints one JSON line per size:

  {"bench": "radius", "db": ..., "n": ..., "auth": ..., "auth_per_s": ..., "auth_p50_ms": ...,
   "auth_p99_ms": ..., "interim": ..., "interim_per_s": ..., "interim_p50_ms": ..., "interim_p99_ms": ...}

  .venv/bin/python bench/radius.py                          # PostgreSQL, 1e4 and 1e5
  .venv/bin/python bench/radius.py --sizes 10000 --db sqlite

Uses bench/scan.py's database set-up (its own database, dropped afterwards)."""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan import drop_database, free_port, setup_database, stop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET = b"bench-secret"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="comma-separated ticket counts")
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--requests", type=int, default=5000, help="Access-Requests (and as many interims) per size")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    p.add_argument("--worker-class", default="gthread", help="gunicorn worker class: gthread or sync")
    p.add_argument("--sqlite-path", default=str(ROOT / "var" / "bench_radius.sqlite3"))
    p.add_argument("--pg-database", default="passgate_bench_radius")
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    return p.parse_args(argv)


class World:
    """A hotel with one NAS on loopback, a 24-hour method, and FreeRADIUS's token."""

    def __init__(self) -> None:
        import datetime as dt

        from passgate.guest import services
        from passgate.guest.models import Format
        from passgate.orgs.models import Role
        from passgate.orgs.services import Actor, create_organisation, issue_api_token

        org = create_organisation("bench", "Bench hotel")
        self.actor = Actor.system(org, "bench")
        location = services.create_location(self.actor, code="H", name="Hotel", ssid="Hotel", qr_style="PORTAL",
                                            portal_url="https://portal.example/")
        services.create_nas_client(self.actor, location, name="bench", network="127.0.0.1", secret=SECRET.decode())
        self.method = services.create_method(self.actor, location, code="DAY", name="Day", format=Format.SINGLE,
                                             devices=3, duration=dt.timedelta(hours=24), quota_bytes=2**40,
                                             bandwidth_up=10**6, bandwidth_down=10**7)
        _, self.token = issue_api_token(self.actor, "bench freeradius", Role.ACCESS_CONTROL)
        self.credentials: list[tuple[str, str]] = []

    def issue(self, n: int) -> float:
        from passgate.guest import services

        t0 = time.perf_counter()
        while n > 0:
            count = min(n, 10_000)
            issued = services.issue_tickets(self.actor, services.IssueRequest(method=self.method, count=count))
            self.credentials += [(t.username, t.password) for t in issued.tickets]
            n -= count
        return time.perf_counter() - t0


def settle(db: str) -> None:
    """What a live system has done long before its guests arrive: the fresh rows vacuumed (hint
    bits set) and the planner's statistics up to date. Without it, the first reads of 10^5
    just-inserted tickets write to every page they touch, and the figures measure that."""
    from django.db import connection

    if db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE guest_guestticket")
            cursor.execute("VACUUM ANALYZE guest_radiussession")
        connection.close()


def wait_udp(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = subprocess.run(["radclient", "-r", "1", "-t", "1", f"127.0.0.1:{port}", "status",
                               SECRET.decode()], input="Message-Authenticator = 0x00\n", capture_output=True, text=True)
        if done.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("FreeRADIUS did not answer Status-Server")


def start_servers(env: dict[str, str], world: World, args, workdir: Path):
    from passgate.guest import radius_config

    port = free_port()
    gunicorn = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), os.environ.get("PASSGATE_BENCH_WSGI", "passgate.wsgi:application"), "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "-k", args.worker_class, "--threads", str(args.threads), "--keep-alive", "30",
         "--log-level", "warning"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)  # scan.stop() ends the whole process group
    ports = radius_config.RadiusPorts("127.0.0.1", free_port(), free_port())
    directory = radius_config.render(workdir / "freeradius", f"http://127.0.0.1:{port}", ports, threads=8,
                                     max_threads=32, clients=[radius_config.Client(
                                         "bench", "127.0.0.1", SECRET.decode(), world.token)])
    freeradius = subprocess.Popen(radius_config.command(directory), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    wait_udp(ports.auth_port)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return gunicorn, freeradius, ports


def wait_http(url: str, seconds: float = 60) -> None:
    """Until gunicorn's workers answer: the figures must not include their boot."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def drive(port: int, packets: list[bytes], concurrency: int, timeout: float = 5.0) -> dict:
    """Send the packets with `concurrency` in flight (one socket each); per-request latency."""
    selector = selectors.DefaultSelector()
    queue = list(reversed(packets))
    latencies: list[float] = []
    lost = 0
    codes: dict[int, int] = {}  # RADIUS code → answers (2 Access-Accept, 3 Access-Reject, 5 Accounting-Response)
    sent_at: dict[socket.socket, float] = {}

    def send(sock: socket.socket) -> None:
        if queue:
            sock.send(queue.pop())
            sent_at[sock] = time.perf_counter()
        else:
            sent_at.pop(sock, None)

    t0 = time.perf_counter()
    for _ in range(min(concurrency, len(packets))):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        send(sock)
    while sent_at:
        events = selector.select(timeout=0.5)
        now = time.perf_counter()
        for key, _ in events:
            sock = key.fileobj
            answer = sock.recv(4096)
            codes[answer[0] if answer else 0] = codes.get(answer[0] if answer else 0, 0) + 1
            latencies.append(now - sent_at[sock])
            send(sock)
        for sock, at in list(sent_at.items()):
            if now - at > timeout:
                lost += 1
                send(sock)
    elapsed = time.perf_counter() - t0
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    latencies.sort()
    return {"count": len(latencies), "lost": lost, "codes": codes, "per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2) if latencies else None}


def auth_packets(credentials: list[tuple[str, str]], count: int) -> list[bytes]:
    from pyrad import packet

    from passgate.guest.coa import dictionary

    out = []
    for i in range(count):
        username, password = random.choice(credentials)
        request = packet.AuthPacket(code=packet.AccessRequest, id=i % 256, secret=SECRET, dict=dictionary())
        request["User-Name"] = username
        request["User-Password"] = request.PwCrypt(password)
        request["NAS-IP-Address"] = "127.0.0.1"
        request["Calling-Station-Id"] = f"02-00-00-{i % 256:02x}-{i // 256 % 256:02x}-01"
        out.append(request.RequestPacket())
    return out


def acct_packets(credentials: list[tuple[str, str]], count: int, status: str) -> list[bytes]:
    from pyrad import packet

    from passgate.guest.coa import dictionary

    out = []
    for i in range(count):
        username, _ = credentials[i % len(credentials)]
        request = packet.AcctPacket(id=i % 256, secret=SECRET, dict=dictionary())
        request["Acct-Status-Type"] = status
        request["User-Name"] = username
        request["Acct-Session-Id"] = f"bench-{i % len(credentials)}"
        request["NAS-IP-Address"] = "127.0.0.1"
        request["Calling-Station-Id"] = "02-00-00-00-00-01"
        request["Acct-Input-Octets"] = 1000 * i % 2**32
        request["Acct-Output-Octets"] = 3000 * i % 2**32
        request["Acct-Session-Time"] = i
        out.append(request.RequestPacket())
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    if not (ROOT / "deploy" / "freeradius").exists() or subprocess.run(["which", "freeradius"],
                                                                         capture_output=True).returncode:
        sys.exit("bench/radius.py needs freeradius, freeradius-rest and freeradius-utils (scripts/system-deps.sh)")
    sizes = [int(s) for s in args.sizes.split(",")]
    env = setup_database(argparse.Namespace(db=args.db, pg_database=args.pg_database,
                                            sqlite_path=args.sqlite_path, keep=args.keep))
    world = World()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                issue_s = world.issue(n - len(world.credentials))
                settle(args.db)
                gunicorn, freeradius, ports = start_servers(env, world, args, Path(tmp))
                try:
                    drive(ports.auth_port, auth_packets(world.credentials, 300), 4)  # warm-up
                    auth = drive(ports.auth_port, auth_packets(world.credentials, args.requests), args.concurrency)
                    sessions = world.credentials[:args.requests]
                    drive(ports.acct_port, acct_packets(sessions, len(sessions), "Start"), args.concurrency)
                    interim = drive(ports.acct_port, acct_packets(sessions, args.requests, "Interim-Update"),
                                    args.concurrency)
                finally:
                    stop(freeradius)
                    stop(gunicorn)
                print(json.dumps({"bench": "radius", "db": args.db, "n": n, "issue_s": round(issue_s, 2),
                                  "concurrency": args.concurrency, "gunicorn": f"{args.workers}x{args.threads}",
                                  "auth": auth["count"], "auth_accepted": auth["codes"].get(2, 0), "auth_lost": auth["lost"], "auth_per_s": auth["per_s"],
                                  "auth_p50_ms": auth["p50_ms"], "auth_p99_ms": auth["p99_ms"],
                                  "interim": interim["count"], "interim_answered": interim["codes"].get(5, 0),
                                  "interim_lost": interim["lost"],
                                  "interim_per_s": interim["per_s"], "interim_p50_ms": interim["p50_ms"],
                                  "interim_p99_ms": interim["p99_ms"]}), flush=True)
    finally:
        drop_database(args)


if __name__ == "__main__":
    main()
