"""Post-synchronisation of partner cards admitted offline or while the partner was down."""

from __future__ import annotations

from django.db.models import F

from passgate.errors import NotFound

from .. import connectors as connector_registry
from ..models import (
    PostSync,
    Scan,
)


def pending_postsync(organisation_id: int, connector: str, limit: int = 100) -> list[Scan]:
    return list(Scan.objects.filter(organisation_id=organisation_id, connector=connector,
                                    postsync_status=PostSync.PENDING)
                .select_related("sector", "door", "device").order_by("scanned_at", "id")[:limit])


def run_postsync(organisation_id: int, connector_name: str, limit: int = 100) -> dict[str, int]:
    """Hand queued partner cards to their connector. At-least-once: the connector is
    idempotent by the scan's reference; a partner outage leaves the scan pending."""
    connector = connector_registry.get(connector_name)
    if connector is None:
        raise NotFound("no connector of this name is installed", field="connector", found=connector_name)
    done = failed = pending = 0
    for row in pending_postsync(organisation_id, connector_name, limit):
        try:
            result = connector.post_sync(row)
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
