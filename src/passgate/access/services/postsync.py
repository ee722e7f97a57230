"""Post-synchronisation of partner cards admitted offline or while the partner was down.

A run *claims* its rows before calling the partner (a claim token and an expiry written by a
conditional UPDATE; on PostgreSQL the candidates are picked with SKIP LOCKED), so two runs never
hand one card to the partner at the same time, and the claims of a run killed mid-way expire and
are taken again: at least once toward an idempotent partner, never twice concurrently."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from passgate.errors import NotFound

from .. import connectors as connector_registry
from ..models import (
    PostSync,
    Scan,
)

logger = logging.getLogger(__name__)

CHUNK = 20  # cards claimed at a time: a killed run strands at most this many until their claim expires


def claim_seconds() -> float:
    return float(getattr(settings, "ACCESS_POSTSYNC_CLAIM_SECONDS", 300))


def _pending(interface):
    return Scan.objects.filter(organisation_id=interface.organisation_id, sector__interface=interface,
                               postsync_status=PostSync.PENDING)


def pending_postsync(interface, limit: int = 100) -> list[Scan]:
    """Partner cards queued for the interface's partner (in the sectors it serves)."""
    return list(_pending(interface).select_related("sector", "door", "device").order_by("scanned_at", "id")[:limit])


def claim_postsync(interface, limit: int, token: str, now: dt.datetime | None = None) -> list[Scan]:
    """Claim up to `limit` queued cards nobody holds (or whose claim expired) for run `token`."""
    now = now or timezone.now()
    free = Q(postsync_claimed_until__isnull=True) | Q(postsync_claimed_until__lt=now)
    with transaction.atomic():
        candidates = _pending(interface).filter(free).order_by("scanned_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # The conditional UPDATE is the claim (SQLite has no SKIP LOCKED; its writers queue).
        Scan.objects.filter(pk__in=ids, postsync_status=PostSync.PENDING).filter(free).update(
            postsync_claim=token, postsync_claimed_until=now + dt.timedelta(seconds=claim_seconds()))
    return list(Scan.objects.filter(pk__in=ids, postsync_claim=token).select_related("sector", "door", "device")
                .order_by("scanned_at", "id"))


def _finish(row: Scan, token: str, **fields: Any) -> bool:
    """Write a card's outcome if this run still holds its claim."""
    return bool(Scan.objects.filter(pk=row.pk, postsync_claim=token).update(
        postsync_claim="", postsync_claimed_until=None, postsync_attempts=F("postsync_attempts") + 1, **fields))


Report = Callable[[Scan, str, str, str], None]  # (scan, DONE|FAILED|PENDING, partner code, message)


def run_postsync(interface, limit: int = 100, *, on_result: Report | None = None,
                 on_claimed: Callable[[int], None] | None = None) -> dict[str, int]:
    """Hand queued partner cards to the interface's connector. A refusal is FAILED with the partner's
    reason (e.g. recordedLate: the visitor was already inside); a partner outage leaves the card
    pending for the next run."""
    from passgate.jobs import registry

    spec = registry.types().get(interface.type)
    connector = spec.access if spec is not None else None
    if connector is None:
        raise NotFound("this interface's connector does not check cards at doors", field="interface",
                       found=f"{interface.name} ({interface.type})")
    token = secrets.token_hex(16)
    counts = {"done": 0, "failed": 0, "pending": 0}
    while sum(counts.values()) < limit:
        rows = claim_postsync(interface, min(CHUNK, limit - sum(counts.values())), token)
        if not rows:
            break
        if on_claimed is not None:
            on_claimed(len(rows))
        unreachable = ""
        for row in rows:
            if unreachable:  # the partner is down: release the rest of the chunk untouched
                Scan.objects.filter(pk=row.pk, postsync_claim=token).update(postsync_claim="",
                                                                             postsync_claimed_until=None)
                status, code, message = PostSync.PENDING, "", unreachable
            else:
                status, code, message = _sync_one(connector, interface, row, token)
                if status == PostSync.PENDING:
                    unreachable = message or "partner unreachable"
            counts[status.lower()] += 1
            if on_result is not None:
                on_result(row, status, code, message)
        if unreachable:
            break
    return counts


def _sync_one(connector, interface, row: Scan, token: str) -> tuple[str, str, str]:
    try:
        result = connector.post_sync(row, interface)
    except connector_registry.PartnerUnavailable as exc:
        _finish(row, token, postsync_detail=str(exc)[:300])
        return PostSync.PENDING, "", str(exc)
    except Exception as exc:  # a connector's bug: this card fails visibly; the others go on
        logger.exception("post-sync of card %s by %s failed", row.barcode, getattr(connector, "name", "?"))
        message = f"{type(exc).__name__}: {exc}"[:300]
        _finish(row, token, postsync_status=PostSync.FAILED, postsync_detail=message)
        return PostSync.FAILED, "", message
    product = {"product_id": result.product_id} if result.product_id and not row.product_id else {}
    if result.granted:
        message = result.message
        _finish(row, token, postsync_status=PostSync.DONE, postsync_detail=message[:300],
                recorded_barcode=result.recorded_barcode or row.recorded_barcode, **product)
        return PostSync.DONE, result.partner_reason, message
    # Refused (recordedLate, unknown card…): FAILED, with the partner's word, for someone to look at.
    message = " — ".join(p for p in (result.partner_reason, result.message) if p) or "refused by the partner"
    _finish(row, token, postsync_status=PostSync.FAILED, postsync_detail=message[:300],
            recorded_barcode=result.recorded_barcode or row.recorded_barcode, **product)
    return PostSync.FAILED, result.partner_reason, message
