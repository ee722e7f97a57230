"""The doors' hook: how a partner (Otipass…) plugs into access control.

A sector may be linked to a partner interface (`Sector.interface`). When a
barcode is not one passgate issued, the core asks the hook of that interface's
type whether it *recognises* it (a format check, also shipped to offline
devices as `format_rules`) and, online, to *validate* it with the partner. Cards
admitted offline (or while the partner was unreachable) are queued and handed
to `post_sync` later.

There is one registry, `passgate.jobs.registry`: a connector app puts an
AccessConnector on its interface type (`InterfaceTypeSpec.access`) in its
AppConfig.ready(). Connectors depend on the core, never the reverse."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any


class PartnerUnavailable(Exception):
    """The partner could not be reached (timeout, 5xx, down): the core falls back."""


@dataclass(frozen=True)
class PartnerCheck:
    """What the core hands to a connector for one card."""

    organisation_id: int
    sector: Any  # access.models.Sector (code, connector_options…)
    interface: Any  # jobs.models.Interface serving the sector (url, username, parameters; secret via jobs)
    door_code: str
    device_id: int | None
    barcode: str
    scanned_at: dt.datetime
    direction: str
    offline: bool
    reference: str  # idempotency key for the partner ("device id:nonce")


@dataclass
class PartnerDecision:
    granted: bool
    reason: str | None = None  # a Reason code when refused; PARTNER_REFUSED by default
    message: str = ""
    partner_reason: str = ""  # the partner's own word (e.g. ALREADY_CHECKED)
    recorded_barcode: str = ""  # the barcode the control is recorded under (e.g. OTI…)
    info: dict[str, Any] = field(default_factory=dict)  # shown to the steward
    product_id: int | None = None  # the product the control is recorded under (a card has no ticket)


class AccessConnector:
    """Base class. `name` is recorded on the scans it handled (the interface type code)."""

    name: str = ""

    def format_rules(self, sector: Any, interface: Any) -> list[dict[str, Any]]:
        """Rules an offline device evaluates to recognise a card (see `matches_rules`)."""
        return []

    def recognises(self, barcode: str, sector: Any, interface: Any) -> bool:
        rules = self.format_rules(sector, interface)
        return bool(rules) and matches_rules(barcode, rules)

    def validate(self, check: PartnerCheck) -> PartnerDecision:  # pragma: no cover - abstract
        raise NotImplementedError

    def fallback_window(self, at: dt.datetime, zone: Any) -> tuple[dt.datetime, dt.datetime]:
        """While the partner is unreachable a card is admitted on detection once per sector per this
        window: by default the organisation's calendar day around `at` (zone = its ZoneInfo)."""
        local = at.astimezone(zone)
        start = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return start, end

    def post_sync(self, scan: Any, interface: Any) -> PartnerDecision:
        """Tell the partner about a card admitted offline. Raise PartnerUnavailable to retry later."""
        raise NotImplementedError


def for_sector(sector: Any) -> tuple[AccessConnector, Any] | None:
    """(hook, interface) serving a sector, or None. The interface row comes from the
    per-process access cache (dropped when the interface is saved), not from a query per scan."""
    if not sector.interface_id:
        return None
    from passgate.jobs import registry
    from passgate.jobs.models import Interface

    from . import cache

    interface = cache.row(Interface, sector.interface_id)
    spec = registry.types().get(interface.type)
    hook = spec.access if spec is not None else None
    return (hook, interface) if hook is not None and interface.enabled else None


# ---------------------------------------------------------------- format rules

def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def matches_rules(barcode: str, rules: list[dict[str, Any]]) -> bool:
    """All rules must hold. Kinds: regex {pattern}, luhn {}, prefix {value},
    length {min, max}. The same evaluation runs on offline devices."""
    for rule in rules:
        kind = rule.get("kind")
        if kind == "regex":
            if not re.fullmatch(rule["pattern"], barcode):
                return False
        elif kind == "luhn":
            if not luhn_ok(barcode):
                return False
        elif kind == "prefix":
            if not barcode.startswith(rule["value"]):
                return False
        elif kind == "length":
            if not rule.get("min", 0) <= len(barcode) <= rule.get("max", 10**6):
                return False
        else:
            return False  # an unknown rule never recognises (fail closed)
    return True
