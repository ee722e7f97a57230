"""The organisation's change sequence: every service that changes tickets stamps
them with a new number taken from the organisation's counter row.

The number is allocated with a conditional UPDATE of that row, whose lock is held
until the writer's transaction ends. Two writers of one organisation therefore
commit in sequence order, and a reader that sees number N knows every number
below N is committed and visible. That is what lets a job resume "after
(change_seq, id)" without ever skipping a change that committed late — which a
time stamp (`updated_at`, taken when the row is written, not when it commits)
cannot promise. The access change log logs its entries under the same numbers."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from .models import ChangeCounter, Ticket


def next_seq(organisation_id: int) -> int:
    """Allocate the next change sequence number; call inside a transaction (locks the counter row
    until it commits). Take it as late in the transaction as you can: it serialises the writers."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_seq must be called inside a transaction (the lock would be released at once)")
    updated = ChangeCounter.objects.filter(organisation_id=organisation_id).update(last_seq=F("last_seq") + 1)
    if not updated:
        ChangeCounter.objects.bulk_create([ChangeCounter(organisation_id=organisation_id, last_seq=0)],
                                          ignore_conflicts=True)
        ChangeCounter.objects.filter(organisation_id=organisation_id).update(last_seq=F("last_seq") + 1)
    return ChangeCounter.objects.filter(organisation_id=organisation_id).values_list("last_seq", flat=True).get()


def current_seq(organisation_id: int) -> int:
    return (ChangeCounter.objects.filter(organisation_id=organisation_id).values_list("last_seq", flat=True)
            .first() or 0)


def stamp(organisation_id: int, ticket_ids: Iterable[int]) -> int:
    """Give these tickets a new change number (one for the whole change); returns it."""
    seq = next_seq(organisation_id)
    ids = list(ticket_ids)
    for start in range(0, len(ids), 1000):
        Ticket.objects.filter(pk__in=ids[start:start + 1000]).update(change_seq=seq)
    return seq
