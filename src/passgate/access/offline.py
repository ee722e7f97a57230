"""A reference offline device: what a scanner does with the package.

It keeps the sector's valid barcodes and block list, applies full pages and
increments from the cursor, and decides alone (same rules as the server, with
the counts it saw itself). Signed barcodes it never downloaded are verified
with the package's public keys and checked against the block list. Tests and
`passgate door-sim` use it; device makers can read it as the specification."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from . import connectors, policy, signing

# The columns of a package row this device reads (format 2).
COLUMNS = ("barcode", "product", "performance", "tariff", "category", "seat", "entries", "first_controlled_at",
           "inside", "today", "window")
# A removed barcode's reason, as the ticket's status the policy knows.
REMOVED_STATUS = {"CANCELLED": "CANCELLED", "BLOCKED": "BLOCKED", "INVALIDATED": "INVALIDATED",
                  "REPLACED": "REPLACED", "NOT_IN_SECTOR": "PRINTED"}


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass
class OfflineDevice:
    valid: dict[str, list] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    cursor: str | None = None
    # What this device admitted or let out itself since its package: barcode → [(at, direction)]
    local_events: dict[str, list[tuple[dt.datetime, str]]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    # ---------------------------------------------------------- package

    def apply(self, package: dict[str, Any]) -> None:
        if package["mode"] == "reset":
            self.valid.clear()
            self.blocked.clear()
            self.cursor = None
            return
        self.header = {k: package[k] for k in ("products", "performances", "rules", "keys", "connector_rules",
                                               "sector", "columns", "time_zone", "day")}
        self._zone = zoneinfo.ZoneInfo(package["time_zone"])
        # Local events are kept over a new row: the server may not have them yet (scans do not
        # reach the change log), and counting one twice can only deny, never admit wrongly.
        for row in package["barcodes"]:
            self.valid[row[0]] = dict(zip(COLUMNS, row, strict=False))
            self.blocked.pop(row[0], None)
        for barcode, reason in package["removed"]:
            self.valid.pop(barcode, None)
            self.blocked[barcode] = reason
        self.cursor = package["next_cursor"]

    def sync(self, fetch, limit: int = 1000, max_pages: int = 10_000) -> int:
        """Page until complete; fetch(cursor, limit) returns a package page. Returns pages read."""
        for pages in range(1, max_pages + 1):
            package = fetch(self.cursor, limit)
            self.apply(package)
            if package["complete"]:
                return pages
        raise RuntimeError("package did not complete")

    # ---------------------------------------------------------- decision

    def _rules_admit(self, product, performance, tariff, category) -> bool:
        for r_product, r_perf, r_tariff, r_cat in self.header.get("rules", []):
            if (r_product == product and (r_perf is None or r_perf == performance)
                    and (r_tariff is None or r_tariff == tariff) and (r_cat is None or r_cat == category)):
                return True
        return False

    def _day(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self._zone).date()

    def decide(self, barcode: str, now: dt.datetime, direction: str = "ENTRY") -> tuple[str, str]:
        """(decision, reason) and remember it in the history to upload."""
        decision, reason = self._decide(barcode, now, direction)
        self.history.append({"barcode": barcode, "nonce": uuid.uuid4().hex, "scanned_at": now.isoformat(),
                             "direction": direction, "decision": decision, "reason": reason or None})
        if decision == "GRANTED":
            self.local_events.setdefault(barcode, []).append((now, direction))
        return decision, reason

    def facts(self, barcode: str, now: dt.datetime, direction: str) -> policy.Facts | None:
        """What the policy needs, from the package and this device's own events; None = not a card
        this device knows (unknown barcode)."""
        row = self.valid.get(barcode)
        signed = None
        status = "PRINTED"
        if barcode in self.blocked:
            # NOT_IN_SECTOR: a live ticket this sector does not admit (WRONG_SECTOR, as online).
            row = {"product": None}
            status = REMOVED_STATUS.get(self.blocked[barcode], "PRINTED")
        elif row is None:
            payload = signing.decode(barcode, {k["kid"]: k["public_key"] for k in self.header.get("keys", [])})
            if payload is None:
                return None
            row = {"product": payload.product_id}
            signed = (payload.valid_from, payload.valid_until)
        product = self.header["products"].get(str(row.get("product")))
        perf_id = row.get("performance")
        perf = self.header["performances"].get(str(perf_id)) if perf_id else None
        events = self.local_events.get(barcode, [])
        entries = [at for at, d in events if d == "ENTRY"]
        first = _dt(row.get("first_controlled_at"))
        if first is None and entries:
            first = entries[0]
        today = self._day(now)
        controls_today = (row.get("today") or 0) if self.header.get("day") == today.isoformat() else 0
        controls_today += sum(1 for at in entries if self._day(at) == today)
        if "today" in row and row["today"] is None:
            controls_today = 0  # an imported external barcode: no day count, as online
        window = row.get("window")
        if signed is not None:
            # A signed barcode carries only its product: the sector must admit the whole product.
            rules_admit = any(r[0] == row["product"] and r[1] is None and r[2] is None and r[3] is None
                              for r in self.header.get("rules", []))
        else:
            rules_admit = self._rules_admit(row.get("product"), perf_id, row.get("tariff"), row.get("category"))
        return policy.Facts(
            now=now, direction=direction, status=status, rules_admit=rules_admit,
            product=_product_facts(product) if product else None,
            performance=(_dt(perf["opens_at"]), _dt(perf["ends_at"])) if perf else None,
            reentry_allowed=self.header["sector"]["reentry_allowed"],
            control_count=(row.get("entries") or 0) + len(entries),
            inside=(events[-1][1] == "ENTRY") if events else bool(row.get("inside")),
            first_controlled_at=first, controls_today=controls_today,
            external=(_dt(window[0]), _dt(window[1])) if window else None, signed=signed)

    def _decide(self, barcode: str, now: dt.datetime, direction: str) -> tuple[str, str]:
        facts = self.facts(barcode, now, direction)
        if facts is None:
            for entry in self.header.get("connector_rules", []):
                if connectors.matches_rules(barcode, entry["rules"]):
                    return "GRANTED", ""  # detection only, post-synchronised later
            return "DENIED", "UNKNOWN_BARCODE"
        return policy.decide(facts)


def _product_facts(product: dict[str, Any]) -> policy.ProductFacts:
    return policy.ProductFacts(
        single_entry=product["single_entry"], max_controls=product["max_controls"],
        max_controls_per_day=product["max_controls_per_day"], validity=product["validity"],
        valid_from=_dt(product["valid_from"]), valid_until=_dt(product["valid_until"]),
        validity_hours=product["validity_hours"])
