#!/usr/bin/env python
"""TIXnGO connector benchmark: ticket injection of 10^4 and 10^5 tickets, then feedback over 10^5
log entries, through the real connector (schedules run by jobs.runner) against the TIXnGO sandbox
run as its own process.

Each size runs in a fresh child process (its own SQLite database under var/, its own sandbox), so
the child's peak RSS (ru_maxrss) is that run's. Tickets are created in chunks of 5,000 by
bulk_create (a bench shortcut, not the sale path) so that creating them does not set the peak.
Injection runs the TIXNGO_TICKET_INJECTION schedule at its default batch (1,000 per run) and the
interface's default ticketIterationSize (1,000 per call) until nothing is left. Feedback (in the
10^5 child) runs TIXNGO_FEEDBACK at its default batch until 10^5 log entries are stored.

Prints one JSON line:

  {"bench": "tixngo", "sizes": [{"n": ..., "runs": ..., "seconds": ..., "tickets_per_s": ...,
   "peak_rss_mb": ..., "injection_peak_rss_mb": ...}, ...], "rss_growth_pct": ...,
   "feedback": {"entries": ..., "runs": ..., "seconds": ..., "entries_per_s": ...}}

`injection_peak_rss_mb` is the peak during the injection alone (VmHWM reset before it, Linux).

  .venv/bin/python bench/tixngo.py [--sizes 10000,100000] [--feedback 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "tixngo-key"
CHUNK = 5000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--feedback", type=int, default=100_000, help="log entries feedback reads (0: skip)")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-feedback", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _reset_hwm() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _setup_django(n: int) -> None:
    db = ROOT / "var" / f"bench_tixngo_{n}.sqlite3"
    db.parent.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["PASSGATE_SQLITE_PATH"] = str(db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passgate.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world(n: int, url: str):
    """An organisation, a concert, the wallet's point of sale, n NOT_PRINTED tickets, the interface."""
    from decimal import Decimal

    from django.utils import timezone

    from passgate.catalog import services as catalog
    from passgate.catalog.models import (
        Category,
        ChannelType,
        Family,
        Performance,
        PointOfSale,
        Product,
        SalesChannel,
        Season,
        Tariff,
    )
    from passgate.jobs import services
    from passgate.orgs.services import Actor, create_organisation
    from passgate.sales import services as sales
    from passgate.sales.models import Order, Ticket

    org = create_organisation("bench", "Bench", "Europe/Paris", "EUR")
    actor = Actor.system(org, "bench")
    now = timezone.now()
    season = catalog.create(actor, Season, code="S", name="Season")
    product = catalog.create(actor, Product, season=season, code="CONCERT", name="Concert", family=Family.EVENT)
    perf = catalog.create(actor, Performance, product=product, code="P1", name="Night", starts_at=now + dt.timedelta(
        days=30), ends_at=now + dt.timedelta(days=30, hours=3), venue_site="Stade", venue_city="Toulouse",
        venue_country_code="FR", venue_zip="31000")
    tariff = catalog.create(actor, Tariff, product=product, code="FULL", name="Full", price=Decimal("25.00"))
    category = catalog.create(actor, Category, product=product, code="CAT1", name="Stalls")
    box = catalog.create(actor, SalesChannel, code="BOX", name="Box", type=ChannelType.INTERNAL)
    desk = catalog.create(actor, PointOfSale, channel=box, code="DESK", name="Desk")
    wallet = catalog.create(actor, SalesChannel, code="WALLET", name="Wallet", type=ChannelType.EXTERNAL_PRINTING)
    catalog.create(actor, PointOfSale, channel=wallet, code="WALLETPOS", name="Wallet printing")
    buyer = sales.create_contact(actor, first_name="Fan", last_name="Bench", email="fan@example.org",
                                 country_code="FR")
    per_order = 100
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        orders = Order.objects.bulk_create(
            Order(organisation=org, file_number=f"B{start + i:08d}", buyer=buyer, channel=box, point_of_sale=desk,
                  currency="EUR", total=Decimal("25.00") * per_order) for i in range(0, size, per_order))
        Ticket.objects.bulk_create(
            Ticket(organisation=org, order=orders[i // per_order], product=product, performance=perf, tariff=tariff,
                   category=category, price=Decimal("25.00"), currency="EUR", barcode=f"BENCH{start + i:010d}",
                   status_changed_at=now) for i in range(size))
    interface = services.create_interface(
        actor, type="TIXNGO", name="TIXnGO", url=url + "/organizer/tickets", secret=KEY,
        parameters_text='{"salesChannel": "WALLET", "pointOfSale": "WALLETPOS"}')
    return actor, interface


def _run_until(schedule, done) -> tuple[int, float]:
    from passgate.jobs.runner import run_schedule

    runs, started = 0, time.perf_counter()
    while True:
        execution = run_schedule(schedule.pk)
        runs += 1
        if execution.status not in ("OK", "WARNING"):
            raise SystemExit(f"run {runs}: {execution.status} {execution.error}")
        if done(execution):
            return runs, time.perf_counter() - started
        print(f"{schedule.function}: run {runs}, {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def child(n: int, feedback: int) -> None:
    # a SIGTERM (the parent interrupted) still stops this child's sandbox, in the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _setup_django(n)
    sys.path.insert(0, str(ROOT))
    from sandboxes.framework import start_subprocess

    proc, url = start_subprocess("tixngo")
    try:
        import httpx

        httpx.post(url + "/_sandbox/seed", json={"api_key": KEY, "tx_confirm_s": 0}).raise_for_status()
        from passgate.jobs import services
        from passgate.sales.models import Ticket

        actor, interface = _world(n, url)
        injection = services.create_schedule(actor, interface=interface, function="TIXNGO_TICKET_INJECTION",
                                             name="inject")
        _reset_hwm()
        runs, seconds = _run_until(injection, lambda e: e.selected == 0)
        injection_peak = _hwm_mb()
        printed = Ticket.objects.filter(status="PRINTED").count()
        in_wallet = httpx.get(url + "/_sandbox/counts").json()
        if printed != n:
            raise SystemExit(f"{printed} of {n} tickets PRINTED; sandbox: {in_wallet}")
        out = {"n": n, "runs": runs, "seconds": round(seconds, 2), "tickets_per_s": round(n / seconds),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               "injection_peak_rss_mb": injection_peak}
        print(f"\ninjection: {json.dumps(out)}", file=sys.stderr, flush=True)
        if feedback:
            from passgate.connectors.tixngo.models import WalletLogEntry

            schedule = services.create_schedule(actor, interface=interface, function="TIXNGO_FEEDBACK",
                                                name="feedback")
            runs, seconds = _run_until(schedule, lambda e: WalletLogEntry.objects.count() >= feedback
                                       or e.selected == 0)
            entries = WalletLogEntry.objects.count()
            out["feedback"] = {"entries": entries, "runs": runs, "seconds": round(seconds, 2),
                               "entries_per_s": round(entries / seconds)}
        print(file=sys.stderr)
        print(json.dumps(out))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    args = parse_args()
    if args.child is not None:
        child(args.child, args.child_feedback)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = []
    for n in sizes:
        fb = args.feedback if n == max(sizes) else 0
        done = subprocess.run([sys.executable, __file__, "--child", str(n), "--child-feedback", str(fb)],
                              stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    feedback = next((r.pop("feedback") for r in results if "feedback" in r), None)
    line = {"bench": "tixngo", "sizes": results}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        line["rss_growth_pct"] = round(100 * (large["peak_rss_mb"] / small["peak_rss_mb"] - 1), 1)
    if feedback:
        line["feedback"] = feedback
    print(json.dumps(line))


if __name__ == "__main__":
    main()
