"""`passgate radius`: render FreeRADIUS's configuration for this install (NAS clients from the
database, passgate's URL, a token per organisation) into a directory of its own, and run
`freeradius -f -d DIR` on loopback ports of its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from passgate.guest import radius_config


class Command(BaseCommand):
    help = "Render deploy/freeradius for this install and run FreeRADIUS on it."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="Directory for the rendered configuration "
                                                        "(default: var/freeradius under the data directory).")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="passgate's URL, as FreeRADIUS sees it.")
        parser.add_argument("--address", default="127.0.0.1", help="Address FreeRADIUS listens on.")
        parser.add_argument("--auth-port", type=int, default=18120)
        parser.add_argument("--acct-port", type=int, default=18130)
        parser.add_argument("--render-only", action="store_true", help="Write the configuration, check it, stop.")
        parser.add_argument("--debug", action="store_true", help="Run freeradius -X (every packet logged).")

    def handle(self, *args, **options):
        directory = Path(options["dir"] or Path(settings.DATA_DIR) / "freeradius")
        ports = radius_config.RadiusPorts(options["address"], options["auth_port"], options["acct_port"])
        radius_config.render(directory, options["url"], ports)
        try:
            checked = radius_config.check(directory)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        if checked.returncode != 0:
            raise CommandError(f"FreeRADIUS refuses the rendered configuration in {directory}:\n"
                               f"{checked.stdout[-3000:]}{checked.stderr[-2000:]}")
        self.stderr.write(f"FreeRADIUS configuration in {directory}: auth {ports.address}:{ports.auth_port}, "
                          f"acct {ports.address}:{ports.acct_port}, passgate at {options['url']}")
        if options["render_only"]:
            return
        argv = radius_config.command(directory, debug=options["debug"])
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(argv[0], argv)  # FreeRADIUS takes this process's place (signals reach it directly)
        except OSError as exc:
            raise CommandError(f"could not start {argv[0]}: {exc}") from None
