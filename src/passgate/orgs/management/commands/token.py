"""`passgate token create|list|revoke`: the organisation's API tokens, from the machine's shell
(the first token of a new install needs no click and no token)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from passgate.orgs.models import ApiToken
from passgate.orgs.services import issue_api_token, revoke_api_token

from ._operator import ROLE_HELP, operator, organisation


class Command(BaseCommand):
    help = "API tokens of an organisation: create (printed once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="Create a token and print it (once: it is not stored).")
        create.add_argument("--org", required=True, help="Organisation code.")
        create.add_argument("--role", required=True, help=ROLE_HELP)
        create.add_argument("--name", required=True, help="What the token is for (e.g. 'web shop').")
        listing = sub.add_parser("list", help="List the tokens (prefix, name, role, last used, revoked).")
        listing.add_argument("--org", required=True, help="Organisation code.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix (as `token list` shows it) or name.")
        revoke.add_argument("--org", required=True, help="Organisation code.")
        revoke.add_argument("token", help="The token's prefix (pg_…) or its name.")

    def handle(self, *args, action, org, **options):
        org = organisation(org)
        if action == "create":
            token, plaintext = issue_api_token(operator(org), options["name"], options["role"])
            self.stderr.write(f"Token {token.name!r} ({token.role}) of {org.code}; shown once, keep it now:")
            self.stdout.write(plaintext)
        elif action == "list":
            for t in ApiToken.objects.filter(organisation=org).order_by("created_at", "id"):
                used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never used"
                state = f"revoked {t.revoked_at.isoformat(timespec='seconds')}" if t.revoked_at else "active"
                self.stdout.write(f"{t.prefix}…  {t.name:<30} {t.role:<15} {used:<26} {state}")
        else:
            key = options["token"].rstrip("…")
            matches = list(ApiToken.objects.filter(organisation=org, revoked_at__isnull=True, prefix=key[:10])
                           if key.startswith("pg_") else
                           ApiToken.objects.filter(organisation=org, revoked_at__isnull=True, name=key))
            if len(matches) != 1:
                raise CommandError(f"{options['token']!r}: {'no' if not matches else len(matches)} active tokens "
                                   f"match (expected exactly one; see `passgate token list --org {org.code}`)",
                                   returncode=2)
            revoke_api_token(operator(org), matches[0])
            self.stdout.write(f"revoked {matches[0].prefix}… {matches[0].name}")
