"""`passgate otipass setup`: the Otipass setup assistant from the command line (idempotent).

The API key is never an argument (it would stay in the shell history and the process list):
it is read from --key-file, from the environment variable OTIPASS_API_KEY, or prompted."""

from __future__ import annotations

import getpass
import os
import sys
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from passgate.errors import PassgateError
from passgate.orgs.models import Organisation
from passgate.orgs.services import Actor

from ...readiness import readiness
from ...setup import parse_sector, setup_otipass

KEY_ENV = "OTIPASS_API_KEY"


class Command(BaseCommand):
    help = "Otipass: `setup` creates or repairs the open pass, channel OTIPASS, contingent, contact, interface " \
           "and mapping, then prints the readiness checklist."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        setup = sub.add_parser("setup", help="Run the setup assistant (idempotent).")
        setup.add_argument("--org", required=True, help="The organisation's code.")
        setup.add_argument("--url", required=True, help="The URL Otipass gave, e.g. https://otipass.net/api/toulouse")
        setup.add_argument("--user", required=True, help="The Otipass user name.")
        setup.add_argument("--key-file", help=f"A file holding the API key (else ${KEY_ENV}, else a prompt; "
                                              "--no-key keeps the stored one).")
        setup.add_argument("--no-key", action="store_true", help="Do not ask for the key (keep the stored one).")
        setup.add_argument("--sector", action="append", required=True, metavar="CODE=SERVICEID[=PSPACEID]",
                           help="A sector scanning Otipass cards and its Otipass service id (repeat per sector).")
        setup.add_argument("--season", required=True, help="The season code of the open pass.")
        setup.add_argument("--product", default="OTIPASS", help="The open pass's product code (default OTIPASS).")
        setup.add_argument("--tariff", default="OTIPASS", help="The tariff code entries are sold at.")
        setup.add_argument("--price", default="0", help="The price of that tariff when it is created.")
        setup.add_argument("--quota", type=int, default=1000, help="The contingent's quota when it is created.")
        setup.add_argument("--num-type", choices=["numeric", "serial"], help="How pass numbers look.")
        setup.add_argument("--name", default="Otipass", help="The interface's name.")

    def handle(self, *args, **options):
        organisation = Organisation.objects.filter(code=options["org"]).first()
        if organisation is None:
            raise CommandError(f"--org: no organisation has the code {options['org']!r}")
        try:
            price = Decimal(options["price"])
        except InvalidOperation:
            raise CommandError(f"--price: expected a decimal number, found {options['price']!r}") from None
        secret = "" if options["no_key"] else self._key(options)
        actor = Actor.system(organisation, "cli: passgate otipass setup")
        try:
            report = setup_otipass(
                actor, url=options["url"], username=options["user"], secret=secret,
                sectors=[parse_sector(s) for s in options["sector"]], season_code=options["season"],
                product_code=options["product"], tariff_code=options["tariff"], tariff_price=price,
                quota=options["quota"], num_type=options["num_type"], interface_name=options["name"])
        except PassgateError as exc:
            lines = [d.get("message", "") for d in exc.details] or [
                f"{exc.field or 'error'}: {exc.message}; expected {exc.expected}, found {exc.found}"]
            raise CommandError("\n".join(lines)) from None
        for step in report.steps:
            self.stdout.write(f"  {step}")
        self.stdout.write("Readiness:")
        for check in readiness(report.interface):
            self.stdout.write(f"  {check.step}. [{check.status}] {check.title}: {check.detail}"
                              + (f" — {check.fix}" if check.fix else ""))

    def _key(self, options) -> str:
        if options["key_file"]:
            try:
                with open(options["key_file"], encoding="utf-8") as f:
                    return f.read().strip()
            except OSError as exc:
                raise CommandError(f"--key-file: cannot read it ({exc.strerror})") from None
        if os.environ.get(KEY_ENV):
            return os.environ[KEY_ENV].strip()
        if not sys.stdin.isatty():
            raise CommandError(f"the API key: give --key-file, set {KEY_ENV}, run in a terminal to be asked, "
                               "or pass --no-key to keep the stored one")
        return getpass.getpass("Otipass API key (not shown): ").strip()
