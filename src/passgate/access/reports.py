"""Read-only reports: attendance per performance and sector, reconciliation of
offline conflicts. Used by the admin and the API."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count

from passgate.catalog.models import Performance, Product

from .models import Decision, Direction, Scan, ScanConflict, Sector


def attendance(organisation, performance_id: int | None = None) -> list[dict[str, Any]]:
    """Per (performance — or product for passes — and sector): entered (distinct tickets/cards
    granted), entries, inside now (granted entries minus granted exits), denied by reason."""
    qs = Scan.objects.filter(organisation=organisation)
    if performance_id:
        qs = qs.filter(performance_id=performance_id)
    rows = (qs.values("performance_id", "product_id", "sector_id", "direction", "decision", "reason")
            .annotate(n=Count("id"), tickets=Count("ticket_id", distinct=True),
                      cards=Count("barcode", distinct=True)))
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["performance_id"], None if r["performance_id"] else r["product_id"], r["sector_id"])
        g = groups.setdefault(key, {"entries": 0, "exits": 0, "entered": 0, "denied": defaultdict(int)})
        if r["decision"] == Decision.GRANTED and r["direction"] == Direction.ENTRY:
            g["entries"] += r["n"]
            g["entered"] += r["tickets"] or r["cards"]
        elif r["decision"] == Decision.GRANTED:
            g["exits"] += r["n"]
        else:
            g["denied"][r["reason"] or "UNKNOWN"] += r["n"]
    perfs = {p.pk: p for p in Performance.objects.filter(pk__in={k[0] for k in groups if k[0]})}
    products = {p.pk: p for p in Product.objects.filter(pk__in={k[1] for k in groups if k[1]})}
    sectors = {s.pk: s for s in Sector.objects.filter(pk__in={k[2] for k in groups if k[2]})}
    out = []
    for (perf_id, product_id, sector_id), g in groups.items():
        perf = perfs.get(perf_id)
        product = products.get(product_id)
        out.append({
            "performance": perf.code if perf else None,
            "performance_id": perf_id,
            "starts_at": perf.starts_at.isoformat() if perf else None,
            "product": product.code if product else None,
            "sector": sectors[sector_id].code if sector_id in sectors else None,
            "entered": g["entered"],
            "entries": g["entries"],
            "exits": g["exits"],
            "inside": max(0, g["entries"] - g["exits"]),
            "denied": dict(sorted(g["denied"].items())),
            "denied_total": sum(g["denied"].values()),
        })
    out.sort(key=lambda x: (x["starts_at"] or "", x["performance"] or x["product"] or "", x["sector"] or ""))
    return out


def reconciliation(organisation, unresolved_only: bool = True) -> list[dict[str, Any]]:
    """Conflicts grouped per performance (or product) and sector, each with the scans behind it."""
    qs = (ScanConflict.objects.filter(organisation=organisation)
          .select_related("scan", "scan__door", "scan__device", "other_scan", "other_scan__door",
                          "other_scan__device", "sector", "performance", "product", "ticket")
          .order_by("performance_id", "sector_id", "-detected_at"))
    if unresolved_only:
        qs = qs.filter(resolved_at__isnull=True)
    groups: dict[tuple, dict[str, Any]] = {}
    for c in qs[:5000]:
        key = (c.performance_id, c.product_id if not c.performance_id else None, c.sector_id)
        g = groups.setdefault(key, {
            "performance": c.performance, "product": c.product, "sector": c.sector, "conflicts": [],
            "kinds": defaultdict(int)})
        g["conflicts"].append(c)
        g["kinds"][c.kind] += 1
    out = list(groups.values())
    for g in out:
        g["kinds"] = dict(g["kinds"])
    return out


def _count_block() -> dict[str, Any]:
    return {"entered": 0, "entries": 0, "exits": 0, "inside": 0, "denied": 0, "denied_by_reason": {}}


def performance_attendance(organisation, performance: Performance) -> dict[str, Any]:
    """One performance now: tickets sold, entered (distinct tickets granted an entry), inside now
    (granted entries minus granted exits), denied by reason; the same per sector and per door.
    The admin's self-refreshing page and the API both show this."""
    from passgate.sales.models import Ticket, TicketStatus

    scans = Scan.objects.filter(organisation=organisation, performance=performance)
    rows = (scans.values("sector__code", "door__code", "direction", "decision", "reason")
            .annotate(n=Count("id"), tickets=Count("ticket_id", distinct=True)))
    total, sectors, doors = _count_block(), defaultdict(_count_block), defaultdict(_count_block)
    for r in rows:
        for block in (total, sectors[r["sector__code"] or "—"], doors[r["door__code"] or "—"]):
            if r["decision"] == Decision.GRANTED and r["direction"] == Direction.ENTRY:
                block["entries"] += r["n"]
            elif r["decision"] == Decision.GRANTED:
                block["exits"] += r["n"]
            else:
                block["denied"] += r["n"]
                reason = r["reason"] or "UNKNOWN"
                block["denied_by_reason"][reason] = block["denied_by_reason"].get(reason, 0) + r["n"]
    # distinct tickets entered: counted per level (a ticket may enter at two doors of one sector)
    granted = scans.filter(decision=Decision.GRANTED, direction=Direction.ENTRY)
    total["entered"] = granted.values("ticket_id").distinct().count()
    for key, blocks in (("sector__code", sectors), ("door__code", doors)):
        for r in granted.values(key).annotate(t=Count("ticket_id", distinct=True)):
            blocks[r[key] or "—"]["entered"] = r["t"]
    for block in (total, *sectors.values(), *doors.values()):
        block["inside"] = max(0, block["entries"] - block["exits"])
        block["denied_by_reason"] = dict(sorted(block["denied_by_reason"].items()))
    sold = Ticket.objects.filter(organisation=organisation, performance=performance).exclude(
        status__in=[TicketStatus.CANCELLED, TicketStatus.INVALIDATED]).count()
    last = scans.order_by("-scanned_at").values_list("scanned_at", flat=True).first()
    return {
        "performance": performance.code, "performance_id": performance.pk, "name": performance.name,
        "starts_at": performance.starts_at, "doors_open_at": performance.doors_open_at,
        "ends_at": performance.ends_at, "sold": sold, "last_scan_at": last, **total,
        "sectors": [{"sector": code, **b} for code, b in sorted(sectors.items())],
        "doors": [{"door": code, **b} for code, b in sorted(doors.items())],
    }
