"""Renders deploy/freeradius/ for this install into a directory of its own: the NAS clients from
the database with their decrypted shared secrets, each carrying its organisation's token for
passgate, passgate's URL and the loopback ports; and runs `freeradius -f -d DIR` on it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from passgate.orgs.models import ApiToken, Organisation, Role
from passgate.orgs.services import Actor, issue_api_token

from . import services
from .models import NasClient

TEMPLATES = Path(__file__).resolve().parents[3] / "deploy" / "freeradius"
TOKEN_NAME = "freeradius (passgate radius)"
FREERADIUS = "freeradius"


@dataclass(frozen=True)
class RadiusPorts:
    address: str = "127.0.0.1"
    auth_port: int = 18120
    acct_port: int = 18130


def freeradius_binary() -> str | None:
    return shutil.which(FREERADIUS) or shutil.which(FREERADIUS, path="/usr/sbin:/sbin")


def ensure_freeradius(say) -> bool:
    """FreeRADIUS for the demo: present, or installed now when running as root (Debian's packages
    through scripts/system-deps.sh), or else `say` how to add it. True when it can run."""
    script = TEMPLATES.parents[1] / "scripts" / "system-deps.sh"
    if freeradius_binary() is None and os.geteuid() == 0 and script.exists():
        say("FreeRADIUS is missing: installing freeradius, freeradius-rest and freeradius-utils…")
        subprocess.run(["bash", str(script)], check=False)
    if freeradius_binary() is None:
        say("FreeRADIUS is not installed, so the demo runs without it: `sudo scripts/system-deps.sh` (or "
            "`apt-get install freeradius freeradius-rest freeradius-utils`) adds it.")
        return False
    return True


def quoted(text: str) -> str:
    """A FreeRADIUS double-quoted string: backslash and quote escaped, no expansion of %{…}
    (values in clients.conf are not xlat-expanded, and the escaping keeps the quoting intact)."""
    if any(ch in text for ch in "\r\n\0"):
        raise ValueError("a FreeRADIUS configuration value cannot hold a line break")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def organisation_token(org: Organisation) -> str:
    """A fresh token for FreeRADIUS to call passgate with; the previous ones of `passgate radius`
    are revoked, so only the running instance holds a valid one."""
    actor = Actor.system(org, "cli:radius")
    with transaction.atomic():
        ApiToken.objects.filter(organisation=org, name=TOKEN_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        _, plaintext = issue_api_token(actor, TOKEN_NAME, Role.ACCESS_CONTROL)
    return plaintext


@dataclass(frozen=True)
class Client:
    """One `client` of clients.conf: a NAS, its shared secret, its organisation's token."""

    name: str
    network: str
    secret: str
    token: str


def database_clients(tokens: dict[int, str]) -> list[Client]:
    return [Client(name=f"{nas.organisation.code}-{nas.pk}-{nas.name}", network=nas.network,
                   secret=services.nas_secret(nas), token=tokens[nas.organisation_id])
            for nas in NasClient.objects.select_related("organisation").order_by("organisation_id", "pk")
            if nas.organisation_id in tokens]


def clients_conf(clients: list[Client]) -> str:
    parts = ["# Rendered by `passgate radius`: one client per NAS of the database.\n"]
    for n, client in enumerate(clients):
        parts.append(
            f"client c{n} {{\n"
            f"\tipaddr = {services.parse_network(client.network)}\n"
            f"\tsecret = {quoted(client.secret)}\n"
            f"\tshortname = {quoted(re.sub(r'[^A-Za-z0-9_.-]', '_', client.name)[:60])}\n"
            f"\trequire_message_authenticator = no\n"
            f"\tpassgate_token = {quoted(client.token)}\n"
            f"}}\n")
    return "\n".join(parts)


def render(directory: Path, url: str, ports: RadiusPorts, *, threads: int = 4, max_threads: int = 32,
           clients: list[Client] | None = None) -> Path:
    """Write the configuration into `directory` (created, 0700: it holds secrets). Unless the
    clients are given, they are the database's NAS clients, with a fresh token per organisation."""
    if clients is None:
        orgs = Organisation.objects.filter(pk__in=NasClient.objects.values("organisation_id"))
        clients = database_clients({org.pk: organisation_token(org) for org in orgs})
    values = {"dir": str(directory.resolve()), "url": url.rstrip("/"), "address": ports.address,
              "auth_port": str(ports.auth_port), "acct_port": str(ports.acct_port),
              "threads": str(threads), "max_threads": str(max_threads)}
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for sub in ("log", "run", "radacct", "mods-enabled", "sites-enabled"):
        (directory / sub).mkdir(exist_ok=True)
    for template in ("radiusd.conf", "dictionary", "mods-enabled/rest", "mods-enabled/auth", "sites-enabled/passgate"):
        text = (TEMPLATES / template).read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        (directory / template).write_text(text)
    (directory / "clients.conf").write_text(clients_conf(clients))
    os.chmod(directory / "clients.conf", 0o600)
    return directory


def command(directory: Path, *, debug: bool = False) -> list[str]:
    binary = freeradius_binary()
    if binary is None:
        raise FileNotFoundError("freeradius is not installed (apt-get install freeradius freeradius-rest "
                                "freeradius-utils, or scripts/system-deps.sh as root)")
    return [binary, "-f", "-d", str(directory), "-l", "stdout"] + (["-X"] if debug else [])


def check(directory: Path) -> subprocess.CompletedProcess:
    """`freeradius -C`: the rendered configuration parses and its modules load."""
    return subprocess.run(command(directory)[:4] + ["-XC"], capture_output=True, text=True, timeout=60)
