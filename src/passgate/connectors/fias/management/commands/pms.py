"""`passgate pms`: hold the FIAS link to each hotel PMS; run until SIGTERM (supervise it like the worker)."""

from __future__ import annotations

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from passgate.connectors.fias.link import Interface, run_link
from passgate.connectors.fias.models import PmsLink
from passgate.errors import NotFound


class Command(BaseCommand):
    help = ("Hold the FIAS links to the hotel PMSs (check-ins, check-outs, room moves, postings); runs until "
            "SIGTERM and reconnects after a drop. Supervise it like the worker.")

    def add_arguments(self, parser):
        parser.add_argument("--link", type=int, action="append", help="only this PmsLink id (repeatable)")
        parser.add_argument("--backoff-max", type=float, default=30.0, help="longest wait between reconnects (s)")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks for new postings")

    def handle(self, *args, link=None, backoff_max=30.0, poll=1.0, **options):
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("passgate.fias").setLevel(logging.INFO)
        qs = PmsLink.objects.select_related("location").filter(enabled=True)
        if link:
            qs = qs.filter(pk__in=link)
            missing = set(link) - set(qs.values_list("pk", flat=True))
            if missing:
                raise NotFound("no such enabled PMS link", field="link", found=sorted(missing))
        interfaces = [Interface.of(x, backoff_max=backoff_max, poll=poll) for x in qs]
        self.stdout.write(f"passgate pms: {len(interfaces)} link(s): "
                          + (", ".join(f"{i.host}:{i.port}" for i in interfaces) or "none configured"))
        self.stdout.flush()
        asyncio.run(self._run(interfaces))
        self.stdout.write("passgate pms: stopped")

    async def _run(self, interfaces: list[Interface]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if not interfaces:
            await stop.wait()
            return
        await asyncio.gather(*(run_link(i, stop) for i in interfaces))
