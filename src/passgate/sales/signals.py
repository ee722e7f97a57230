"""Signals other rooms listen to (access control's block list, connectors'
change feeds). Sent inside the transaction that made the change."""

from django.dispatch import Signal

# kwargs: organisation, ticket_ids (list[int]), change ("sold", "printed", "cancelled",
# "invalidated", "reprinted"), retired_barcodes (list[str], for reprints), seq (the change
# number stamped on the tickets, sales.changes: receivers log under it, never take another)
tickets_changed = Signal()
