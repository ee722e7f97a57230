#!/usr/bin/env python
"""TIXnGO sandbox injection throughput: starts the sandbox as a process on a free loopback
port, creates one event, injects N tickets (default 10^5) in calls of 1000 over one
keep-alive httpx client, and prints one JSON line:

  {"bench": "tixngo_sandbox_inject", "n": ..., "calls": ..., "seconds": ..., "tickets_per_s": ...,
   "rss_mb": ..., "rss_mb_half": ..., "client_rss_mb": ...}

`rss_mb` is the sandbox process's resident memory at the end (it holds every ticket and log
entry), `rss_mb_half` the same after half of the tickets (so growth per ticket can be seen);
request bodies are built before the clock starts, so the figure is the sandbox's, not the
client's JSON encoding.

  .venv/bin/python bench/tixngo_sandbox.py [--n 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandboxes.framework import start_subprocess  # noqa: E402

KEY = {"X-Api-Key": "tixngo-key"}
EVENT = {"name": "Bench", "startTime": "2027-06-01T20:00:00+02:00", "expirationDate": "2027-06-02T02:00:00+02:00",
         "address": {"site": "Stade", "city": "Toulouse", "countryCode": "FR", "zip": "31000"},
         "website": "https://example.org"}


def ticket(i: int) -> dict:
    return {"ticketId": str(i), "eventId": "BENCH", "barcode": f"{i:012d}", "fileId": i // 4, "category": "CAT1",
            "price": 25.0, "currency": "EUR", "sortingKey": i,
            "spectatorDetails": {"gender": "MALE", "firstName": "Fan", "lastName": f"N{i}",
                                 "email": f"fan{i}@example.org", "birthDate": "1990-01-01", "idNumber": f"ID{i}",
                                 "countryCode": "FR", "birthRegion": "Occitanie", "birthPlace": "Toulouse"},
            "mainApplicant": True, "activationParameters": {"method": "online", "time": "2027-06-01T18:00:00Z"}}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    bodies = [json.dumps({"tickets": [ticket(i) for i in range(start, min(start + args.batch, args.n))]}).encode()
              for start in range(0, args.n, args.batch)]
    proc, url = start_subprocess("tixngo")
    try:
        with httpx.Client(base_url=url + "/organizer", headers={**KEY, "Content-Type": "application/json"},
                          timeout=60) as client:
            client.put("/events/BENCH", json=EVENT).raise_for_status()
            injected, half = 0, None
            started = time.perf_counter()
            for number, body in enumerate(bodies):
                response = client.post("/tickets", content=body)
                response.raise_for_status()
                injected += sum(r["status"] == "INJECTED" for r in response.json()["results"])
                if number == len(bodies) // 2:
                    half = rss_mb(proc.pid)
            seconds = time.perf_counter() - started
        if injected != args.n:
            raise SystemExit(f"injected {injected} of {args.n}")
        print(json.dumps({"bench": "tixngo_sandbox_inject", "n": args.n, "calls": len(bodies),
                          "seconds": round(seconds, 2), "tickets_per_s": round(args.n / seconds),
                          "rss_mb": rss_mb(proc.pid), "rss_mb_half": half,
                          "client_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
