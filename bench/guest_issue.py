"""Bulk issue of guest WiFi tickets: N tickets of one method in one call of issue_tickets.
Prints one JSON line: {"tickets", "seconds", "tickets_per_s"}. Usage:
    python bench/guest_issue.py [--count 10000]   (uses the configured database; run on a scratch one)"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passgate.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from passgate.guest import services
    from passgate.guest.models import Format
    from passgate.orgs.services import Actor, create_organisation

    code = "bench" + uuid.uuid4().hex[:8]
    actor = Actor.system(create_organisation(code, "Bench hotel"), "bench")
    location = services.create_location(actor, code="L", name="Bench", ssid="Bench",
                                        portal_url="https://portal.example/")
    method = services.create_method(actor, location, code="DAY", name="Day", format=Format.SINGLE,
                                    duration=dt.timedelta(days=1))
    started = time.perf_counter()
    issued = services.issue_tickets(actor, services.IssueRequest(method=method, count=args.count))
    seconds = time.perf_counter() - started
    print(json.dumps({"bench": "guest_issue", "tickets": len(issued.tickets), "seconds": round(seconds, 3),
                      "tickets_per_s": round(len(issued.tickets) / seconds)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
