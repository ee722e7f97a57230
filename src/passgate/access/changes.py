"""The change log that incremental offline packages are built from.

Every writer takes the organisation's change counter row (sales.changes, the
number tickets are stamped with too) with a conditional UPDATE (a row lock held
until its transaction ends) and stamps its log rows with the new sequence
number; a ticket change logs under the number the sales service took. Two writers of one organisation therefore commit
in sequence order, and a reader that sees sequence N knows every sequence below
N is committed and visible: a cursor (seq, id) can never jump over a change
made by a transaction that was still in flight while the device paged.

Scans do not write here (they would serialise every door of the organisation
on one row); a device learns of other doors' entries when its offline history
is uploaded and conflicts are flagged."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from passgate.sales.changes import current_seq, next_seq  # noqa: F401 - one counter for the organisation

from .models import AccessChange, ChangeCounter, ChangeKind


def log_changes(organisation_id: int, entries: list[tuple[str, int | None, str]], seq: int | None = None) -> int:
    """Append (kind, ref_id, barcode) entries under one sequence number: `seq` when the caller
    took it already (a sales change, under its lock), else a new one."""
    if not entries:
        return 0
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return log_changes(organisation_id, entries, seq)
    if seq is None:
        seq = next_seq(organisation_id)
    now = timezone.now()
    AccessChange.objects.bulk_create([
        AccessChange(organisation_id=organisation_id, seq=seq, kind=kind, ref_id=ref_id, barcode=barcode or "",
                     at=now)
        for kind, ref_id, barcode in entries
    ], batch_size=1000)
    return seq


def on_tickets_changed(sender, organisation, ticket_ids, change, retired_barcodes=(), seq=None, **kwargs) -> None:
    """Receiver of sales.signals.tickets_changed (sent inside the sales transaction, which holds `seq`)."""
    entries: list[tuple[str, int | None, str]] = [(ChangeKind.TICKET, tid, "") for tid in ticket_ids]
    entries += [(ChangeKind.RETIRED, None, barcode) for barcode in retired_barcodes or ()]
    log_changes(organisation.pk, entries, seq)


def prune(organisation_id: int, keep: dt.timedelta = dt.timedelta(days=30)) -> int:
    """Delete change-log entries older than `keep`. A device whose cursor is older than what
    remains is told to start again in full (mode "reset"). Returns entries deleted."""
    cutoff = timezone.now() - keep
    with transaction.atomic():
        last_old = (AccessChange.objects.filter(organisation_id=organisation_id, at__lt=cutoff)
                    .order_by("-seq").values_list("seq", flat=True).first())
        if last_old is None:
            return 0
        # the sequence itself lives in sales.changes; this row keeps only how far the log was pruned
        ChangeCounter.objects.bulk_create([ChangeCounter(organisation_id=organisation_id)], ignore_conflicts=True)
        ChangeCounter.objects.filter(organisation_id=organisation_id, pruned_through__lt=last_old).update(
            pruned_through=last_old)
        deleted, _ = AccessChange.objects.filter(organisation_id=organisation_id, seq__lte=last_old).delete()
    return deleted


def pruned_through(organisation_id: int) -> int:
    return (ChangeCounter.objects.filter(organisation_id=organisation_id).values_list("pruned_through", flat=True)
            .first() or 0)
