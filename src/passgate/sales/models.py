"""Contacts, orders ("files") and tickets."""

from __future__ import annotations

from django.db import models

from passgate.catalog.models import Category, Performance, PointOfSale, Product, SalesChannel, Tariff
from passgate.orgs.models import Organisation, OrgScoped


class Gender(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "X", "Other"
    UNKNOWN = "", "Unknown"


class PaymentMode(models.TextChoices):
    CASH = "CASH", "Cash"
    CARD = "CARD", "Card"
    BANK_TRANSFER = "BANK_TRANSFER", "Bank transfer"
    VOUCHER = "VOUCHER", "Voucher"
    PENDING_ACCOUNT = "PENDING_ACCOUNT", "Pending account"
    EXTERNAL = "EXTERNAL", "Paid to an external seller"


class Contact(OrgScoped):
    number = models.CharField(max_length=40, help_text="Contact number, unique in the organisation.")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    birth_date = models.DateField(null=True, blank=True)
    id_number = models.CharField(max_length=60, blank=True)
    country_code = models.CharField(max_length=2, blank=True)
    birth_region = models.CharField(max_length=100, blank=True)
    birth_place = models.CharField(max_length=100, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    # Payment modes this contact may use; empty = the ordinary modes (not PENDING_ACCOUNT).
    payment_modes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "number"]
        constraints = [models.UniqueConstraint(fields=["organisation", "number"], name="contact_number_unique")]
        indexes = [models.Index(fields=["organisation", "last_name", "first_name"], name="contact_name_idx")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or '(no name)'} [{self.number}]"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class OrderStatus(models.TextChoices):
    CONFIRMED = "CONFIRMED", "Confirmed"
    CANCELLED = "CANCELLED", "Cancelled"


class Order(OrgScoped):
    """A "file": one sale, with its file number."""

    file_number = models.CharField(max_length=20)
    buyer = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="orders")
    point_of_sale = models.ForeignKey(PointOfSale, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="orders")
    payment_mode = models.CharField(max_length=20, choices=PaymentMode.choices, default=PaymentMode.CARD)
    # Idempotency key for retried sales (partner order number, STX file line…).
    external_reference = models.CharField(max_length=120, null=True, blank=True)
    # What the request with that reference asked for, so that a retry is recognised as the same
    # sale (200, the same order) and a different sale under the same reference is refused (409).
    request_digest = models.CharField(max_length=64, blank=True, default="")
    request_summary = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "order (file)"
        verbose_name_plural = "orders (files)"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "file_number"], name="order_file_number_unique"),
            models.UniqueConstraint(fields=["organisation", "channel", "external_reference"],
                                    name="order_external_reference_unique"),
        ]

    def __str__(self) -> str:
        return f"file {self.file_number}"


class Sequence(OrgScoped):
    """Per-organisation counters (file numbers, contact numbers); a row lock serialises them."""

    name = models.CharField(max_length=40)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="sequence_name_unique")]


class ChangeCounter(models.Model):
    """Per-organisation change sequence of tickets (and of the access change log, which
    logs under the same numbers). Taken with a row lock by every writer until it commits,
    so sequence order is commit order: a reader that sees N knows every number below N
    is committed and visible (see sales.changes)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.last_seq}"


class TicketStatus(models.TextChoices):
    NOT_PRINTED = "NOT_PRINTED", "Not printed"
    PRINTED = "PRINTED", "Printed"
    CANCELLED = "CANCELLED", "Cancelled"
    INVALIDATED = "INVALIDATED", "Invalidated"


class Ticket(OrgScoped):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="tickets")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="tickets")
    performance = models.ForeignKey(Performance, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="tickets")
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="tickets")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets")
    seat = models.CharField(max_length=60, blank=True)
    contingent = models.ForeignKey("catalog.Contingent", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="tickets")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    barcode = models.CharField(max_length=120, unique=True)
    cultural_contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="tickets_held",
                                         help_text="Beneficiary; the buyer when empty.")
    status = models.CharField(max_length=20, choices=TicketStatus.choices, default=TicketStatus.NOT_PRINTED)
    status_changed_at = models.DateTimeField()
    printed_at = models.DateTimeField(null=True, blank=True)
    printed_by = models.ForeignKey(PointOfSale, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    reprint_count = models.PositiveIntegerField(default=0)
    # Control is tracked apart from the status (filled by access control).
    control_count = models.PositiveIntegerField(default=0)
    first_controlled_at = models.DateTimeField(null=True, blank=True)
    last_controlled_at = models.DateTimeField(null=True, blank=True)
    inside = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The organisation's change sequence number of the last change (sales.changes.stamp):
    # jobs select "changed since" by (change_seq, id), which cannot skip a late commit.
    change_seq = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["organisation", "change_seq", "id"], name="ticket_change_seq_idx"),
            models.Index(fields=["organisation", "status", "status_changed_at"], name="ticket_status_changed_idx"),
            models.Index(fields=["organisation", "updated_at"], name="ticket_updated_idx"),
            models.Index(fields=["organisation", "last_controlled_at"], name="ticket_controlled_idx"),
            models.Index(fields=["product", "status"], name="ticket_product_idx"),
            models.Index(fields=["performance", "status"], name="ticket_performance_idx"),
        ]

    def __str__(self) -> str:
        return self.barcode

    @property
    def beneficiary(self) -> Contact | None:
        """The cultural contact, falling back to the buyer."""
        return self.cultural_contact or self.order.buyer


class RetiredBarcode(OrgScoped):
    """A barcode a ticket had before a reprint: invalid for ever, never reissued."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="retired_barcodes")
    barcode = models.CharField(max_length=120, unique=True)
    retired_at = models.DateTimeField()
    reason = models.CharField(max_length=40, default="REPRINT")

    class Meta:
        ordering = ["-retired_at"]

    def __str__(self) -> str:
        return self.barcode


class OrderEmailStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"


class OrderEmail(OrgScoped):
    """One request to e-mail an order's tickets, and what became of it (sent by a background task)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="emails")
    recipient = models.EmailField()
    requested_by = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=OrderEmailStatus.choices, default=OrderEmailStatus.QUEUED)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "order e-mail"

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"
