"""Otipass cards at passgate doors: the AccessConnector of the OTIPASS interface type.

- Detection: in a sector listed in `sectorInfos`, a barcode passgate did not issue is an Otipass
  card when it has the form `NumType` says (numeric: digits with a Luhn check digit; serial:
  alphanumeric starting with letters). Offline devices get the same rules in their package.
- Validation: one usage posted with the sector's service and pspace, idempotent by the scan's
  reference, within `doorTimeoutSeconds` (retries included). Past the budget, or when Otipass
  cannot be reached (no answer, 5xx, 429), PartnerUnavailable: the core admits the card once per
  sector and queues it for post-sync.
- Recording: under `OTI` + card number + timestamp, with the sector's season and product codes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from passgate.access import cache
from passgate.access.connectors import AccessConnector, PartnerCheck, PartnerDecision, PartnerUnavailable
from passgate.access.models import Reason
from passgate.access.services.inputs import in_words
from passgate.catalog.models import Product
from passgate.jobs.partner_http import PartnerError
from passgate.jobs.secrets import decrypt_cached

from .client import BudgetSpent, OtipassClient, UsageAnswer, budget

DEFAULT_DOOR_TIMEOUT = 1.5
MIN_DOOR_TIMEOUT, MAX_DOOR_TIMEOUT = 0.2, 10.0
SERIAL_PATTERN = r"[A-Za-z]+[A-Za-z0-9]*"
MAX_CARD_LENGTH = 40

# The partner's refusal → passgate's reason code and what the steward reads.
REFUSALS: dict[str, tuple[str, str]] = {
    "ALREADY_CHECKED": (Reason.ALREADY_CONTROLLED, "Otipass: this pass was already used at this site"),
    "EXPIRED": (Reason.EXPIRED, "Otipass: this pass has expired"),
    "BLOCKED": (Reason.BLOCKED, "Otipass: this pass is blocked"),
    "SERVICE_NOT_INCLUDED": (Reason.WRONG_SECTOR, "Otipass: this pass does not include this site"),
    "INACTIVE": (Reason.NOT_YET_VALID, "Otipass: this pass is not activated yet"),
    "INVALID": (Reason.PARTNER_REFUSED, "Otipass: this pass is invalid"),
    "UNKNOWN": (Reason.UNKNOWN_BARCODE, "Otipass does not know this card"),
}

# Milliseconds this thread spent waiting for Otipass (bench/otipass.py reports passgate's own time
# apart from the partner's: its WSGI wrapper resets and reads this per request).
partner_time = threading.local()


def door_timeout(interface: Any) -> float:
    value = (interface.parameters or {}).get("doorTimeoutSeconds", DEFAULT_DOOR_TIMEOUT)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = DEFAULT_DOOR_TIMEOUT
    return min(max(seconds, MIN_DOOR_TIMEOUT), MAX_DOOR_TIMEOUT)


def sector_info(sector: Any, interface: Any) -> dict[str, Any] | None:
    info = ((interface.parameters or {}).get("sectorInfos") or {}).get(sector.code)
    return info if isinstance(info, dict) else None


def recorded_barcode(number: str, at: dt.datetime) -> str:
    """The barcode a control is recorded under (seed 000): `OTI` + card number + timestamp (UTC)."""
    return f"OTI{number}{at.astimezone(dt.UTC):%Y%m%d%H%M%S}"


def mapped_product_id(organisation_id: int, info: dict[str, Any]) -> int | None:
    season, code = info.get("seasonCode"), info.get("productCode")
    return cache.memo(("otipass.product", organisation_id, season, code), lambda: Product.objects.filter(
        organisation_id=organisation_id, season__code=season, code=code).values_list("pk", flat=True).first())


_clients: dict[tuple, OtipassClient] = {}
_clients_lock = threading.Lock()


def door_client(interface: Any) -> OtipassClient:
    """One client (one connection pool) per interface and process: scans reuse its keep-alive
    connections. A new URL, user, key, project or budget replaces it."""
    timeout = door_timeout(interface)
    key = (interface.pk, interface.url, interface.username, interface.secret_encrypted,
           (interface.parameters or {}).get("OtipassProjectId"), timeout)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                for old in [k for k in _clients if k[0] == interface.pk]:
                    _clients.pop(old).close()
                client = _clients[key] = OtipassClient.for_door(
                    interface, decrypt_cached(interface.secret_encrypted), timeout)
    return client


def _unreachable(exc: PartnerError) -> bool:
    """Errors the door falls back on: no answer in time, the partner down or asking to wait."""
    return isinstance(exc, BudgetSpent) or exc.status is None or exc.status >= 500 or exc.status == 429


class OtipassDoor(AccessConnector):
    name = "OTIPASS"

    def format_rules(self, sector: Any, interface: Any) -> list[dict[str, Any]]:
        if sector_info(sector, interface) is None:
            return []
        length = {"kind": "length", "min": 2, "max": MAX_CARD_LENGTH}
        if (interface.parameters or {}).get("NumType") == "serial":
            return [{"kind": "regex", "pattern": SERIAL_PATTERN}, length]
        # ASCII digits first: the Luhn rule alone would take any Unicode digit ("٠٠" is "00")
        return [{"kind": "regex", "pattern": "[0-9]+"}, {"kind": "luhn"}, length]

    def validate(self, check: PartnerCheck) -> PartnerDecision:
        info = sector_info(check.sector, check.interface)
        client = door_client(check.interface)
        seconds = door_timeout(check.interface)
        started = time.monotonic()
        try:
            with budget(seconds):
                answer = client.post_usage(check.barcode, service_id=info["OtipassServiceId"],
                                           pspace_id=info["OtipassPSpaceId"], used_at=check.scanned_at,
                                           reference=check.reference, offline=False)
                previous = (self._previous_use(client, check.barcode, info["OtipassServiceId"])
                            if answer.reason == "ALREADY_CHECKED" else None)
        except PartnerError as exc:
            if _unreachable(exc):
                raise PartnerUnavailable(f"Otipass did not answer within {seconds:g} s ({exc.message})") from None
            raise
        finally:
            partner_time.ms = getattr(partner_time, "ms", 0.0) + (time.monotonic() - started) * 1000
        return self._decision(check.organisation_id, check.barcode, check.scanned_at, info, answer, previous)

    def post_sync(self, scan: Any, interface: Any) -> PartnerDecision:
        """The card admitted offline, sent as an offline usage at its real time. Otipass records it
        even when it now refuses it (recordedLate): that is a refusal carrying the partner's reason."""
        info = sector_info(scan.sector, interface)
        if info is None:
            raise PartnerError(f"sector {scan.sector.code} is no longer in this interface's sectorInfos",
                               field="parameters", expected=f"sectorInfos.{scan.sector.code}",
                               found="(not mapped)")
        try:
            answer = door_client(interface).post_usage(
                scan.barcode, service_id=info["OtipassServiceId"], pspace_id=info["OtipassPSpaceId"],
                used_at=scan.scanned_at, reference=self.reference(scan), offline=True)
        except PartnerError as exc:
            if _unreachable(exc):
                raise PartnerUnavailable(f"Otipass unreachable: {exc.message}") from None
            raise
        decision = self._decision(scan.organisation_id, scan.barcode, scan.scanned_at, info, answer, None)
        if answer.recorded_late:
            decision.message = (f"Otipass recorded this entry late and refuses it ({answer.reason}): the visitor "
                                "was already inside")
        return decision

    @staticmethod
    def reference(scan: Any) -> str:
        """The control's idempotent reference: the scan's partner reference (device:nonce)."""
        return f"{scan.device_id}:{scan.nonce}"

    def _previous_use(self, client: OtipassClient, number: str, service_id: str) -> dt.datetime | None:
        """When the pass was used at this site (for the steward's message); None if it cannot be read."""
        try:
            card = client.get_pass(number)
        except PartnerError:
            return None
        used = [u.get("usedAt") for u in (card.raw.get("usages") or []) if isinstance(u, dict)
                and str(u.get("serviceId", "")).upper() == service_id.upper() and u.get("accepted", True)] \
            if card else []
        times = sorted(t for t in (_parse(u) for u in used) if t is not None)
        return times[0] if times else None

    def _decision(self, organisation_id: int, number: str, at: dt.datetime, info: dict[str, Any],
                  answer: UsageAnswer, previous: dt.datetime | None) -> PartnerDecision:
        card = {"card": number, "season": info.get("seasonCode"), "product": info.get("productCode"),
                "pass_product": answer.pass_.product_ref if answer.pass_ else None,
                "service": info.get("OtipassServiceId")}
        common = {"recorded_barcode": recorded_barcode(number, at), "info": card,
                  "product_id": mapped_product_id(organisation_id, info)}
        if answer.accepted:
            return PartnerDecision(True, message="Otipass pass accepted", **common)
        reason, message = REFUSALS[answer.reason]
        if previous is not None:
            message = f"Otipass: already used at this site {in_words(previous, organisation_id)}"
        return PartnerDecision(False, reason=reason, message=message, partner_reason=answer.reason, **common)


def _parse(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
