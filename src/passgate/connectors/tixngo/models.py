"""What passgate knows of its tickets in the TIXnGO wallet (seed 003: "once issued and injected into
TIXNGO, tickets (status & details) are aligned"): one row per injected ticket, every status log
entry feedback read, and the privilege definition created by the first injection of a product."""

from __future__ import annotations

from django.db import models

from passgate.catalog.models import Product
from passgate.orgs.models import OrgScoped
from passgate.sales.models import Ticket


class WalletStatus(models.TextChoices):
    INJECTED = "INJECTED", "Injected"
    RECEIVED = "RECEIVED", "Received"
    ACTIVATED = "ACTIVATED", "Activated"
    TRANSFER_PENDING = "TRANSFER_PENDING", "Transfer pending"
    TRANSFERRED = "TRANSFERRED", "Transferred"
    CONTROLLED = "CONTROLLED", "Controlled"
    DELETION_PENDING = "DELETION_PENDING", "Deletion pending"
    DELETED = "DELETED", "Deleted"


class TxState(models.TextChoices):
    PENDING = "PENDING", "Pending"
    CONFIRMED = "CONFIRMED", "Confirmed"
    KO = "KO", "KO"


class WalletTicket(OrgScoped):
    """A ticket as the wallet has it: status, owner, and the current holder (which a transfer
    changes, and which a reprint is re-injected to)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="wallet")
    wallet_status = models.CharField(max_length=20, choices=WalletStatus.choices, db_index=True)
    owner_email = models.CharField(max_length=254, blank=True,
                                   help_text="The wallet owner (the partner's owner id after a transfer).")
    holder_first_name = models.CharField(max_length=100, blank=True)
    holder_last_name = models.CharField(max_length=100, blank=True)
    holder_fields = models.JSONField(default=dict, blank=True)
    injected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["ticket_id"]
        indexes = [models.Index(fields=["organisation", "wallet_status"], name="wallet_status_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.wallet_status}"


class WalletLogEntry(OrgScoped):
    """One entry of the partner's status log (blockchain transaction included), as feedback read it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="wallet_log")
    at = models.DateTimeField()
    action = models.CharField(max_length=20)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    from_owner = models.CharField(max_length=254, blank=True)
    to_owner = models.CharField(max_length=254, blank=True)
    tx_hash = models.CharField(max_length=100)
    tx_state = models.CharField(max_length=10, choices=TxState.choices)
    # The pagination key of the page this entry came from (where a re-read would start).
    page_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="wallet_log_ticket_idx")]
        verbose_name_plural = "wallet log entries"

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.action} {self.to_status} {self.tx_state}"


class PrivilegeDefinition(OrgScoped):
    """Created (once) in TIXnGO by the first injection of a membership or season-card product."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="tixngo_privilege")
    partner_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.product_id} → {self.partner_id}"
