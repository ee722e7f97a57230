"""A reference offline device: what a scanner does with the package.

It keeps the sector's valid barcodes and block list, applies full pages and
increments from the cursor, and decides alone (same rules as the server, with
the counts it saw itself). Signed barcodes it never downloaded are verified
with the package's public keys and checked against the block list. Tests and
`passgate door-sim` use it; device makers can read it as the specification."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import connectors, signing


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass
class OfflineDevice:
    valid: dict[str, list] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    cursor: str | None = None
    local_entries: dict[str, list[dt.datetime]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    # ---------------------------------------------------------- package

    def apply(self, package: dict[str, Any]) -> None:
        if package["mode"] == "reset":
            self.valid.clear()
            self.blocked.clear()
            self.cursor = None
            return
        self.header = {k: package[k] for k in ("products", "performances", "rules", "keys", "connector_rules",
                                               "sector", "columns")}
        for row in package["barcodes"]:
            self.valid[row[0]] = row
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

    def _rules_match(self, product, performance, tariff, category) -> bool:
        for r_product, r_perf, r_tariff, r_cat in self.header.get("rules", []):
            if (r_product == product and (r_perf is None or r_perf == performance)
                    and (r_tariff is None or r_tariff == tariff) and (r_cat is None or r_cat == category)):
                return True
        return False

    def _window(self, product: dict, performance: dict | None, first: dt.datetime | None, now: dt.datetime) -> str:
        if performance:
            if now < _dt(performance["opens_at"]):
                return "NOT_YET_VALID"
            if now > _dt(performance["ends_at"]):
                return "EXPIRED"
            return ""
        if product["validity"] == "FIXED":
            if product["valid_from"] and now < _dt(product["valid_from"]):
                return "NOT_YET_VALID"
            if product["valid_until"] and now > _dt(product["valid_until"]):
                return "EXPIRED"
        elif product["validity"] == "FROM_FIRST_CONTROL" and first and product["validity_hours"]:
            if now > first + dt.timedelta(hours=product["validity_hours"]):
                return "EXPIRED"
        return ""

    def decide(self, barcode: str, now: dt.datetime, direction: str = "ENTRY") -> tuple[str, str]:
        """(decision, reason) and remember it in the history to upload."""
        decision, reason = self._decide(barcode, now, direction)
        self.history.append({"barcode": barcode, "nonce": uuid.uuid4().hex, "scanned_at": now.isoformat(),
                             "direction": direction, "decision": decision, "reason": reason or None})
        if decision == "GRANTED" and direction == "ENTRY":
            self.local_entries.setdefault(barcode, []).append(now)
        return decision, reason

    def _decide(self, barcode: str, now: dt.datetime, direction: str) -> tuple[str, str]:
        if barcode in self.blocked:
            reason = self.blocked[barcode]
            return "DENIED", {"CANCELLED": "CANCELLED", "BLOCKED": "BLOCKED"}.get(reason, "INVALIDATED")
        row = self.valid.get(barcode)
        if row is None:
            payload = signing.decode(barcode, {k["kid"]: k["public_key"] for k in self.header.get("keys", [])})
            if payload is not None:
                row = [barcode, payload.product_id, None, None, None, "", 0, None]
                window = (payload.valid_from, payload.valid_until)
            else:
                for entry in self.header.get("connector_rules", []):
                    if connectors.matches_rules(barcode, entry["rules"]):
                        return "GRANTED", ""  # detection only, post-synchronised later
                return "DENIED", "UNKNOWN_BARCODE"
        else:
            window = None
        if direction == "EXIT":
            return "GRANTED", ""
        _, product_id, perf_id, tariff_id, category_id, _seat, entries, first = row
        product = self.header["products"].get(str(product_id))
        if product is None:
            return "DENIED", "WRONG_SECTOR"
        if window is not None:  # signed barcode: the rules may only check the product
            if not any(r[0] == product_id and r[1] is None and r[2] is None and r[3] is None
                       for r in self.header["rules"]):
                return "DENIED", "WRONG_SECTOR"
            if window[0] and now < window[0]:
                return "DENIED", "NOT_YET_VALID"
            if window[1] and now > window[1]:
                return "DENIED", "EXPIRED"
        elif not self._rules_match(product_id, perf_id, tariff_id, category_id):
            return "DENIED", "WRONG_SECTOR"
        local = self.local_entries.get(barcode, [])
        first_seen = _dt(first) or (local[0] if local else None)
        perf = self.header["performances"].get(str(perf_id)) if perf_id else None
        reason = self._window(product, perf, first_seen, now) if window is None else ""
        if reason:
            return "DENIED", reason
        count = (entries or 0) + len(local)
        if product["single_entry"] and count >= 1 and not self.header["sector"]["reentry_allowed"]:
            return "DENIED", "ALREADY_CONTROLLED"
        if product["max_controls"] and count >= product["max_controls"]:
            return "DENIED", "MAX_CONTROLS_REACHED"
        return "GRANTED", ""
