"""Background tasks of the guest room: the Disconnect-Requests owed after a cancel or a used-up
quota are sent right away by a worker, not at the next scheduled run."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def send_disconnects(organisation_id: int) -> dict:
    from passgate.orgs.models import Organisation

    from .coa import send_pending

    return dict(send_pending(Organisation.objects.get(pk=organisation_id)))


def send_disconnects_after_commit(organisation_id: int) -> None:
    """Queue the sender once the transaction that created the Disconnect records commits."""
    transaction.on_commit(lambda: send_disconnects.enqueue(organisation_id))
