"""The access room's part of a ticket's trail: every scan of it (door, device, decision, reason,
online/offline/imported, conflicts). Registered in AccessConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable

from passgate.orgs.models import Organisation
from passgate.sales.timeline import TimelineEvent, admin_link

from .models import Decision, Scan, ScanSource


def scan_events(organisation: Organisation, ticket_ids: list[int]) -> Iterable[TimelineEvent]:
    scans = (Scan.objects.filter(organisation=organisation, ticket_id__in=ticket_ids)
             .select_related("door", "device", "sector").order_by("scanned_at", "id"))
    for s in scans:
        door = s.door.code if s.door_id else (s.gate or "—")
        head = s.decision if s.decision == Decision.GRANTED else f"{s.decision} {s.reason}".strip()
        title = f"Scan {head} at {door} ({s.get_direction_display().lower()}, {s.get_source_display()})"
        if s.conflict:
            title += f" — conflict: {s.get_conflict_display()}"
        yield TimelineEvent(
            at=s.scanned_at, kind="scan", title=title,
            actor=s.device.name if s.device_id else (s.connector or s.gate or ""),
            ticket_id=s.ticket_id, link=admin_link("access_scan_change", s.pk),
            detail={"door": s.door.code if s.door_id else None, "device": s.device.name if s.device_id else None,
                    "sector": s.sector.code if s.sector_id else None, "decision": s.decision,
                    "reason": s.reason, "direction": s.direction, "source": s.source,
                    "online": s.source == ScanSource.DEVICE, "barcode": s.barcode, "message": s.message,
                    "conflict": s.conflict, "connector": s.connector, "received_at": s.received_at.isoformat()})
