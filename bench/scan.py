#!/usr/bin/env python
"""Scan benchmark: online decisions through gunicorn over loopback, and the
offline package for the largest size.

For each size (10^4, 10^5, 10^6 tickets by default) it seeds tickets with bulk
inserts (COPY on PostgreSQL), starts gunicorn on a free loopback port, drives
POST /api/v1/access/scans with concurrent keep-alive clients (asyncio, raw
HTTP/1.1) for a bounded time and count, and prints one JSON line:

  {"bench": "scan", "db": ..., "n": ..., "scans": ..., "scans_per_s": ..., "client_p50_ms": ...,
   "client_p99_ms": ..., "server_p50_ms": ..., "server_p99_ms": ...}

Server time is the `Server-Timing: app;dur=` of bench/scan_wsgi.py (the whole
Django request). Then one JSON line for the full offline package of the
largest size ({"bench": "offline_package", ...}) and one for an increment.

  .venv/bin/python bench/scan.py                       # PostgreSQL (DATABASE_URL or local), 1e4, 1e5, 1e6
  .venv/bin/python bench/scan.py --sizes 10000 --db sqlite
  .venv/bin/python bench/scan.py --db both --sizes 10000,100000

The benchmark creates and drops its own database (PostgreSQL: passgate_bench_scan;
SQLite: var/bench_scan.sqlite3). Never run by the test suite (a smoke test runs a tiny size)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated ticket counts")
    p.add_argument("--db", choices=["postgres", "sqlite", "both"], default="postgres")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per size (bound)")
    p.add_argument("--max-scans", type=int, default=15000, help="scans per size (bound)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive client connections")
    p.add_argument("--workers", type=int, default=None, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread only)")
    p.add_argument("--worker-class", default="sync", choices=["sync", "gthread"],
                   help="sync (default: the kernel spreads connections over workers) or gthread (keep-alive)")
    p.add_argument("--package", action=argparse.BooleanOptionalAction, default=True,
                   help="time the offline package of the largest size")
    p.add_argument("--sqlite-path", default=str(ROOT / "var" / "bench_scan.sqlite3"))
    p.add_argument("--pg-database", default="passgate_bench_scan")
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    return p.parse_args(argv)


# ---------------------------------------------------------------- database

def pg_base_url() -> str:
    url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    return url


def pg_admin(sql: str) -> None:
    import psycopg

    parts = urlsplit(pg_base_url())
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def setup_database(args) -> dict[str, str]:
    """Create the bench database, point Django at it, migrate. Returns the env for gunicorn."""
    env = {"PASSGATE_DEBUG": "0", "PASSGATE_LOG_LEVEL": "WARNING", "PASSGATE_DB_CONN_MAX_AGE": "600",
           "DJANGO_SETTINGS_MODULE": "passgate.settings"}
    if args.db == "postgres":
        name = args.pg_database
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{name}"')
        parts = urlsplit(pg_base_url())
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite_path + suffix).unlink(missing_ok=True)
        Path(args.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        env["PASSGATE_SQLITE_PATH"] = args.sqlite_path
        os.environ.pop("DATABASE_URL", None)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def drop_database(args) -> None:
    if args.keep:
        return
    if args.db == "postgres":
        from django.db import connections

        connections.close_all()
        pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite_path + suffix).unlink(missing_ok=True)


# ---------------------------------------------------------------- seeding

class World:
    """Organisation, a performance on now, a sector that admits it, one device per client connection."""

    def __init__(self, devices: int):
        import datetime as dt
        from decimal import Decimal

        from django.utils import timezone

        from passgate.access import services as access
        from passgate.catalog import services as catalog
        from passgate.catalog.models import (
            Category,
            ChannelType,
            Family,
            Performance,
            Product,
            SalesChannel,
            Season,
            Tariff,
        )
        from passgate.orgs.services import Actor, create_organisation
        from passgate.sales.models import Order

        org = create_organisation("bench", "Bench arena")
        actor = Actor.system(org, "bench")
        now = timezone.now()
        season = catalog.create(actor, Season, code="B26", name="Bench season")
        self.product = catalog.create(actor, Product, season=season, code="GIG", name="Gig", family=Family.EVENT)
        self.performance = catalog.create(actor, Performance, product=self.product, code="NOW", name="Now",
                                          starts_at=now - dt.timedelta(minutes=30),
                                          ends_at=now + dt.timedelta(hours=12),
                                          doors_open_at=now - dt.timedelta(hours=1))
        self.tariff = catalog.create(actor, Tariff, product=self.product, code="FULL", name="Full",
                                     price=Decimal("20.00"))
        self.category = catalog.create(actor, Category, product=self.product, code="FLOOR", name="Floor")
        channel = catalog.create(actor, SalesChannel, code="BOX", name="Box", type=ChannelType.INTERNAL)
        self.order = Order.objects.create(organisation=org, file_number="BENCH", channel=channel, currency="EUR")
        self.sector = access.create_sector(actor, "ARENA", "Arena")
        access.add_rule(actor, self.sector, self.product)
        self.tokens = []
        for d in range(4):
            door = access.create_door(actor, self.sector, f"G{d}", f"Gate {d}")
            for i in range((devices + 3) // 4):
                _, code = access.create_device(actor, door, f"G{d}-{i}")
                self.tokens.append(access.enrol_device(code)[1])
        self.org = org
        self.actor = actor
        self.count = 0
        self.unscanned: list[str] = []

    def add_tickets(self, n: int) -> float:
        """Bulk insert n tickets (COPY on PostgreSQL). Returns seconds."""
        from django.db import connection
        from django.utils import timezone

        from passgate.sales.models import Ticket

        t0 = time.perf_counter()
        now = timezone.now()
        given = {"organisation_id": self.org.pk, "order_id": self.order.pk, "product_id": self.product.pk,
                 "performance_id": self.performance.pk, "tariff_id": self.tariff.pk,
                 "category_id": self.category.pk, "price": self.tariff.price, "currency": "EUR",
                 "status": "PRINTED", "status_changed_at": now, "printed_at": now, "created_at": now,
                 "updated_at": now}
        fields = [f for f in Ticket._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        constant = [given[f.attname] if f.attname in given else f.get_default() for f in fields]
        bi = columns.index("barcode")
        seat_i = columns.index("seat")
        barcodes = [secrets.token_hex(8).upper() for _ in range(n)]
        table = Ticket._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cols = ", ".join(f'"{c}"' for c in columns)
                raw = cursor.cursor
                with raw.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    row = list(constant)
                    for i, barcode in enumerate(barcodes):
                        row[bi] = barcode
                        row[seat_i] = f"S{self.count + i}"
                        copy.write_row(row)
                cursor.execute(f'ANALYZE "{table}"')
            else:
                placeholders = ", ".join("%s" for _ in columns)
                sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({placeholders})'
                for start in range(0, n, 20000):
                    rows = []
                    for i, barcode in enumerate(barcodes[start:start + 20000], start):
                        row = list(constant)
                        row[bi] = barcode
                        row[seat_i] = f"S{self.count + i}"
                        rows.append(row)
                    cursor.executemany(sql, rows)
        self.count += n
        self.unscanned.extend(barcodes)
        random.shuffle(self.unscanned)
        return time.perf_counter() - t0


# ---------------------------------------------------------------- gunicorn

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str], args) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [str(VENV_BIN / "gunicorn"), "scan_wsgi:application", "--chdir", str(ROOT / "bench"),
           "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", args.worker_class, "--threads", str(args.threads),
           "--keep-alive", "30", "--log-level", "warning", "--backlog", "2048"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("gunicorn did not start listening")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------- client

async def one_connection(port, token, barcodes, results, deadline, errors):
    reader = writer = None
    try:
        while barcodes and time.perf_counter() < deadline:
            barcode = barcodes.pop()
            body = json.dumps({"barcode": barcode, "nonce": uuid.uuid4().hex}).encode()
            request = (b"POST /api/v1/access/scans HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/json\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            t0 = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            server = None
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
                elif name == b"server-timing":
                    for part in value.decode().split(","):
                        if part.strip().startswith("app;dur="):
                            server = float(part.strip()[8:])
            payload = await reader.readexactly(length)
            client_ms = (time.perf_counter() - t0) * 1000
            if close:  # sync workers answer one request per connection
                writer.close()
                reader = writer = None
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                errors.append((status, payload[:200]))
                continue
            results.append((client_ms, server, json.loads(payload)["decision"]))
    finally:
        if writer is not None:
            writer.close()


async def drive(port, tokens, barcodes, concurrency, duration):
    results, errors = [], []
    deadline = time.perf_counter() + duration
    t0 = time.perf_counter()
    await asyncio.gather(*(one_connection(port, tokens[i % len(tokens)], barcodes, results, deadline, errors)
                           for i in range(concurrency)))
    return results, errors, time.perf_counter() - t0


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


# ---------------------------------------------------------------- main

def run(args) -> None:
    if args.workers is None:
        # SQLite serialises writers: one worker avoids lock waits; PostgreSQL: two per core.
        args.workers = 1 if args.db == "sqlite" else 4
    env = setup_database(args)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    world = World(args.concurrency)
    print(json.dumps({"bench": "scan_setup", "db": args.db, "concurrency": args.concurrency,
                      "gunicorn": f"{args.workers} {args.worker_class} workers x{args.threads}", "cpus": os.cpu_count()}), flush=True)
    try:
        for n in sizes:
            seed_s = world.add_tickets(n - world.count)
            proc, port = start_gunicorn(env, args)
            try:
                warm = [world.unscanned.pop() for _ in range(min(300, len(world.unscanned) // 10))]
                asyncio.run(drive(port, world.tokens, warm, min(args.concurrency, 8), 30))
                scans = min(args.max_scans, len(world.unscanned))
                batch = [world.unscanned.pop() for _ in range(scans)]
                results, errors, elapsed = asyncio.run(drive(port, world.tokens, batch, args.concurrency,
                                                             args.duration))
                world.unscanned.extend(batch)  # unsent ones stay available
            finally:
                stop(proc)
            client = [r[0] for r in results]
            server = [r[1] for r in results if r[1] is not None]
            granted = sum(1 for r in results if r[2] == "GRANTED")
            print(json.dumps({
                "bench": "scan", "db": args.db, "n": world.count, "scans": len(results), "granted": granted,
                "errors": len(errors), "seconds": round(elapsed, 2),
                "scans_per_s": round(len(results) / elapsed, 1) if elapsed else None,
                "client_p50_ms": pct(client, 0.5), "client_p99_ms": pct(client, 0.99),
                "server_p50_ms": pct(server, 0.5), "server_p99_ms": pct(server, 0.99),
                "server_mean_ms": round(statistics.fmean(server), 3) if server else None,
                "seed_s": round(seed_s, 2)}), flush=True)
            if errors:
                print(json.dumps({"bench": "scan_errors", "sample": [str(e) for e in errors[:3]]}), flush=True)
            inprocess_bench(world, args)
        if args.package:
            package_bench(world, args)
    finally:
        drop_database(args)


def inprocess_bench(world, args, count: int = 1000) -> None:
    """The decision alone (service call, one thread, no HTTP): where the time goes."""
    from passgate.access import services as access

    device = access.authenticate_device(world.tokens[0])
    batch = [world.unscanned.pop() for _ in range(min(count, len(world.unscanned)))]
    times = []
    t_all = time.perf_counter()
    for barcode in batch:
        t0 = time.perf_counter()
        device = access.authenticate_device(world.tokens[0])
        access.scan(device, barcode, uuid.uuid4().hex)
        times.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - t_all
    print(json.dumps({"bench": "scan_decision_inprocess", "db": args.db, "n": world.count, "scans": len(times),
                      "scans_per_s": round(len(times) / elapsed, 1) if elapsed else None,
                      "p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99)}), flush=True)


def package_bench(world, args) -> None:
    from passgate.access.package import build_package, dumps
    from passgate.sales import services as sales
    from passgate.sales.models import Ticket

    t0 = time.perf_counter()
    package = build_package(world.sector, None, None, raw=True)
    built = time.perf_counter() - t0
    body = dumps(package)
    total = time.perf_counter() - t0
    package = json.loads(body)
    print(json.dumps({"bench": "offline_package", "db": args.db, "n": world.count,
                      "barcodes": len(package["barcodes"]), "removed": len(package["removed"]),
                      "build_s": round(built, 3), "build_and_json_s": round(total, 3),
                      "mbytes": round(len(body) / 1e6, 1)}), flush=True)
    cursor = package["next_cursor"]
    changed = list(Ticket.objects.filter(organisation=world.org, status="PRINTED")[:100])
    for ticket in changed:
        sales.cancel_ticket(world.actor, ticket)
    t0 = time.perf_counter()
    delta = build_package(world.sector, cursor, None)
    body = json.dumps(delta, separators=(",", ":"))
    print(json.dumps({"bench": "offline_package_increment", "db": args.db, "n": world.count, "changes": 100,
                      "removed": len(delta["removed"]), "build_and_json_ms": round((time.perf_counter() - t0) * 1000, 2),
                      "bytes": len(body)}), flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.db == "both":
        raw = list(argv if argv is not None else sys.argv[1:])
        base = []
        while raw:
            a = raw.pop(0)
            if a == "--db":
                raw.pop(0)
            elif not a.startswith("--db="):
                base.append(a)
        for db in ("sqlite", "postgres"):
            subprocess.run([sys.executable, __file__, *base, "--db", db], check=True)
        return
    sys.path.insert(0, str(ROOT / "src"))
    run(args)


if __name__ == "__main__":
    main()
