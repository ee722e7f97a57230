"""Post-synchronisation of partner cards admitted offline or while the partner was down."""

from __future__ import annotations

from django.db.models import F

from passgate.errors import NotFound

from .. import connectors as connector_registry
from ..models import (
    PostSync,
    Scan,
)


def pending_postsync(interface, limit: int = 100) -> list[Scan]:
    """Partner cards queued for the interface's partner (in the sectors it serves)."""
    return list(Scan.objects.filter(organisation_id=interface.organisation_id, sector__interface=interface,
                                    postsync_status=PostSync.PENDING)
                .select_related("sector", "door", "device").order_by("scanned_at", "id")[:limit])


def run_postsync(interface, limit: int = 100) -> dict[str, int]:
    """Hand queued partner cards to the interface's connector. At-least-once: the connector is
    idempotent by the scan's reference; a partner outage leaves the scan pending."""
    from passgate.jobs import registry

    spec = registry.types().get(interface.type)
    connector = spec.access if spec is not None else None
    if connector is None:
        raise NotFound("this interface's connector does not check cards at doors", field="interface",
                       found=f"{interface.name} ({interface.type})")
    done = failed = pending = 0
    for row in pending_postsync(interface, limit):
        try:
            result = connector.post_sync(row, interface)
        except connector_registry.PartnerUnavailable as exc:
            Scan.objects.filter(pk=row.pk).update(postsync_attempts=F("postsync_attempts") + 1,
                                                  postsync_detail=str(exc)[:300])
            pending += 1
            continue
        status = PostSync.DONE if result.granted or result.partner_reason else PostSync.FAILED
        Scan.objects.filter(pk=row.pk, postsync_status=PostSync.PENDING).update(
            postsync_status=status, postsync_attempts=F("postsync_attempts") + 1,
            postsync_detail=(result.message or result.partner_reason or "")[:300],
            recorded_barcode=result.recorded_barcode or row.recorded_barcode)
        if status == PostSync.DONE:
            done += 1
        else:
            failed += 1
    return {"done": done, "failed": failed, "pending": pending}
