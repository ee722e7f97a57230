"""`passgate org create`: a new organisation from the shell."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from passgate.orgs.services import create_organisation


class Command(BaseCommand):
    help = "Create an organisation (code, name, time zone, currency)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create}")
        create = sub.add_parser("create", help="Create an organisation.")
        create.add_argument("--code", required=True, help="Short code (letters, digits, '-', '_', '.').")
        create.add_argument("--name", required=True)
        create.add_argument("--time-zone", default="Europe/Paris", help="IANA zone (default Europe/Paris).")
        create.add_argument("--currency", default="EUR", help="ISO currency (default EUR).")

    def handle(self, *args, action, code, name, time_zone, currency, **options):
        org = create_organisation(code, name, time_zone, currency, label="cli")
        self.stdout.write(f"organisation {org.code} created ({org.name}, {org.time_zone}, {org.currency})")
