"""Signals other rooms listen to (access control's block list, connectors'
change feeds). Sent inside the transaction that made the change."""

from django.dispatch import Signal

# kwargs: organisation, ticket_ids (list[int]), change ("sold", "printed", "cancelled",
# "invalidated", "reprinted"), retired_barcodes (list[str], for reprints)
tickets_changed = Signal()
