"""What the operator commands (token, org, user) share: the organisation named by --org, and
the actor they act as (the machine's operator, administrator of that organisation)."""

from __future__ import annotations

import getpass

from django.core.management.base import CommandError

from passgate.orgs.models import Organisation, Role
from passgate.orgs.services import Actor

ROLE_HELP = "one of " + ", ".join(Role.values)


def organisation(code: str) -> Organisation:
    org = Organisation.objects.filter(code=code).first()
    if org is None:
        known = ", ".join(Organisation.objects.order_by("code").values_list("code", flat=True)[:20]) or "none yet"
        raise CommandError(f"--org: no organisation {code!r} (known: {known}; `passgate org create` makes one)",
                           returncode=2)
    return org


def operator(org: Organisation) -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor.system(org, f"cli:{who}")
