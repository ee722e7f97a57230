""""Test connection" of an OTIPASS interface: the URL, the credentials, the project and each
mapped OtipassServiceId, each its own check, in the words an operator can act on."""

from __future__ import annotations

from typing import Any

from passgate.jobs.partner_http import PartnerError, RetryPolicy
from passgate.jobs.registry import ConnectionReport
from passgate.jobs.secrets import decrypt

from .client import OtipassClient

# Passes read to learn the project's services (the contract has no service listing: a pass
# lists the services it includes).
SERVICE_PROBE = 1000


def test_connection(interface: Any) -> ConnectionReport:
    params = interface.parameters or {}
    project = params.get("OtipassProjectId", "")
    checks: list[tuple[str, bool, str]] = []
    client = OtipassClient(interface.url, project=project, username=interface.username,
                           api_key=decrypt(interface.secret_encrypted) if interface.secret_encrypted else "",
                           connect_timeout=5, read_timeout=15, retry=RetryPolicy(max_attempts=2))
    with client:
        try:
            page = client.whitelist(None, SERVICE_PROBE)
        except PartnerError as exc:
            if exc.partner_code == "UNKNOWN_PROJECT":
                checks += [("URL", True, interface.url), ("project", False, f"Otipass does not know {project!r}"),
                           ("credentials", False, "not checked: the project comes first")]
                return ConnectionReport(False, f"Otipass answers, but not for the project {project!r}", checks)
            if exc.status in (401, 403):
                checks += [("URL", True, interface.url), ("project", True, project),
                           ("credentials", False, "user name or API key refused")]
                return ConnectionReport(False, "Otipass refused the user name or the API key", checks)
            checks.append(("URL", False, f"{exc.message} ({exc.found})"))
            return ConnectionReport(False, f"Otipass cannot be reached at this URL: {exc.message}", checks)
    checks += [("URL", True, interface.url), ("project", True, project), ("credentials", True, "accepted")]
    known = {s for card in page.passes for s in card.included_services}
    ok = True
    for sector_code, info in sorted((params.get("sectorInfos") or {}).items()):
        service = str(info.get("OtipassServiceId", "")).upper() if isinstance(info, dict) else ""
        found = service in known
        ok &= found
        checks.append((f"service {service or '(none)'} (sector {sector_code})", found,
                       "known to the project" if found else
                       "no pass of this project includes it: check OtipassServiceId with Otipass"))
    if not ok:
        return ConnectionReport(False, "Otipass answers, but some mapped services are unknown to the project",
                                checks)
    return ConnectionReport(True, "URL, credentials, project and every mapped service are right", checks)
