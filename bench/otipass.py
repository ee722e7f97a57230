#!/usr/bin/env python
"""Otipass benchmark: online scans of Otipass cards through gunicorn, each validated with the
Otipass sandbox (run as its own process, `python -m sandboxes otipass`), at 0 ms and 50 ms of
partner latency. Every card is scanned once (a fresh usage at the partner: GRANTED).

It prints one JSON line:

  {"bench": "otipass", "db": ..., "runs": [{"latency_ms": 0, "scans", "granted", "scans_per_s",
   "client_p50_ms", "client_p99_ms", "server_p50_ms", "server_p99_ms", "partner_p50_ms",
   "own_p50_ms", "own_p99_ms"}, ...]}

`own` is passgate's own time: the whole request (bench/otipass_wsgi.py's `app;dur=`) minus the
time the door connector waited for Otipass (`partner;dur=`), per request.

  .venv/bin/python bench/otipass.py                    # PostgreSQL (DATABASE_URL or local)
  .venv/bin/python bench/otipass.py --db sqlite --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan as scan_bench  # noqa: E402  (bench/scan.py: database set-up, ports, percentiles)

PROJECT, USER, KEY, SERVICE = "bench", "bench-user", "bench-key-0001", "S-BENCH"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--latencies", default="0,50", help="partner latencies in ms, comma-separated")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of load per latency (bound)")
    p.add_argument("--cards", type=int, default=4000, help="cards per latency (bound)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--workers", type=int, default=None, help="gunicorn sync workers")
    p.add_argument("--sqlite-path", default=str(ROOT / "var" / "bench_otipass.sqlite3"))
    p.add_argument("--pg-database", default="passgate_bench_otipass")
    p.add_argument("--keep", action="store_true")
    return p.parse_args(argv)


def start_sandbox() -> tuple[subprocess.Popen, str]:
    port = scan_bench.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandboxes", "otipass", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the sandbox exited: " + proc.stderr.read().decode()[-2000:])
        try:
            httpx.get(f"{url}/_sandbox/state", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    scan_bench.stop(proc)
    raise RuntimeError("the Otipass sandbox did not start")


def cards(n: int, start: int) -> list[str]:
    from sandboxes.otipass.app import luhn_check_digit

    return [(p := f"9250{i:08d}") + luhn_check_digit(p) for i in range(start, start + n)]


def seed_partner(url: str, numbers: list[str]) -> None:
    for at in range(0, len(numbers), 2000):
        httpx.post(f"{url}/_sandbox/seed", timeout=120, json={"projects": {PROJECT: {
            "username": USER, "password": KEY, "services": {SERVICE: {"pspaceId": f"PROVIDER#{SERVICE}"}},
            "passes": [{"number": n, "productRef": "PASS48", "validityHours": 48}
                       for n in numbers[at:at + 2000]]}}}).raise_for_status()


def build_world(url: str, devices: int) -> list[str]:
    """Organisation, the open-pass product, a sector mapped to Otipass, enrolled devices."""
    from decimal import Decimal

    from passgate.access import services as access
    from passgate.catalog import services as catalog
    from passgate.catalog.models import Family, Product, Season, Tariff, Validity
    from passgate.jobs import services as jobs
    from passgate.orgs.services import Actor, create_organisation

    org = create_organisation("bench", "Bench city")
    actor = Actor.system(org, "bench")
    season = catalog.create(actor, Season, code="B26", name="Bench season")
    product = catalog.create(actor, Product, season=season, code="PASS", name="City pass", family=Family.OPEN_PASS,
                             validity=Validity.FROM_FIRST_CONTROL, validity_hours=48)
    catalog.create(actor, Tariff, product=product, code="ADULT", name="Adult", price=Decimal("0"))
    sector = access.create_sector(actor, "CITY", "City museum")
    access.add_rule(actor, sector, product)
    # saving the mapping links the sector to the interface
    jobs.create_interface(actor, type="OTIPASS", name="Otipass", url=f"{url}/api/{PROJECT}",
                                      username=USER, secret=KEY, parameters_text=json.dumps({
                                          "NumType": "numeric", "sectorInfos": {"CITY": {
                                              "OtipassServiceId": SERVICE, "OtipassPSpaceId": f"PROVIDER#{SERVICE}",
                                              "seasonCode": "B26", "productCode": "PASS"}}}))
    tokens = []
    for d in range(devices):
        door = access.create_door(actor, sector, f"G{d}", f"Gate {d}")
        _, code = access.create_device(actor, door, f"G{d}")
        tokens.append(access.enrol_device(code)[1])
    return tokens


def start_gunicorn(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, int]:
    port = scan_bench.free_port()
    cmd = [str(scan_bench.VENV_BIN / "gunicorn"), "otipass_wsgi:application", "--chdir", str(ROOT / "bench"),
           "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "sync", "--log-level", "warning",
           "--backlog", "2048"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + proc.stderr.read().decode()[-2000:])
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    scan_bench.stop(proc)
    raise RuntimeError("gunicorn did not start listening")


async def one_client(port: int, token: str, numbers: list[str], results: list, errors: list, deadline: float):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        while numbers and time.perf_counter() < deadline:
            card = numbers.pop()
            t0 = time.perf_counter()
            response = await client.post("/api/v1/access/scans", json={"barcode": card, "nonce": uuid.uuid4().hex})
            client_ms = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                errors.append((response.status_code, response.text[:200]))
                continue
            timing = dict(part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
            results.append((client_ms, float(timing["app"]), float(timing["partner"]),
                            response.json()["decision"]))


async def drive(port, tokens, numbers, concurrency, duration):
    results, errors = [], []
    deadline = time.perf_counter() + duration
    t0 = time.perf_counter()
    await asyncio.gather(*(one_client(port, tokens[i % len(tokens)], numbers, results, errors, deadline)
                           for i in range(concurrency)))
    return results, errors, time.perf_counter() - t0


def measure(port, tokens, numbers, args, latency_ms) -> dict:
    warm = [numbers.pop() for _ in range(min(100, len(numbers) // 10))]
    asyncio.run(drive(port, tokens, warm, args.concurrency, 30))
    results, errors, elapsed = asyncio.run(drive(port, tokens, numbers, args.concurrency, args.duration))
    pct = scan_bench.pct
    own = [app - partner for _, app, partner, _ in results]
    return {"latency_ms": latency_ms, "scans": len(results),
            "granted": sum(1 for r in results if r[3] == "GRANTED"), "errors": len(errors),
            "scans_per_s": round(len(results) / elapsed, 1) if elapsed else None,
            "client_p50_ms": pct([r[0] for r in results], 0.5), "client_p99_ms": pct([r[0] for r in results], 0.99),
            "server_p50_ms": pct([r[1] for r in results], 0.5), "server_p99_ms": pct([r[1] for r in results], 0.99),
            "partner_p50_ms": pct([r[2] for r in results], 0.5), "own_p50_ms": pct(own, 0.5),
            "own_p99_ms": pct(own, 0.99), **({"error_sample": str(errors[0])} if errors else {})}


def run(args) -> None:
    args.workers = args.workers or (1 if args.db == "sqlite" else 4)
    sandbox, url = start_sandbox()
    try:
        env = scan_bench.setup_database(args)
        tokens = build_world(url, args.concurrency)
        latencies = [int(v) for v in args.latencies.split(",") if v]
        numbers = cards(args.cards * len(latencies), 0)
        seed_partner(url, numbers)
        proc, port = start_gunicorn(env, args.workers)
        runs = []
        try:
            for i, latency in enumerate(latencies):
                httpx.post(f"{url}/_sandbox/faults", json={"latency_ms": latency}).raise_for_status()
                runs.append(measure(port, tokens, numbers[i * args.cards:(i + 1) * args.cards], args, latency))
        finally:
            scan_bench.stop(proc)
        print(json.dumps({"bench": "otipass", "db": args.db, "gunicorn": f"{args.workers} sync workers",
                          "concurrency": args.concurrency, "cpus": os.cpu_count(), "runs": runs}), flush=True)
    finally:
        scan_bench.stop(sandbox)
        scan_bench.drop_database(args)


def main(argv=None) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    run(parse_args(argv))


if __name__ == "__main__":
    main()
