"""PayPal's tables: the accounts guests pay into (per organisation, or per location), each payment a
guest starts on the portal, and every webhook PayPal (or a forger) sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passgate.guest.models import AccessMethod, GuestTicket, Location
from passgate.orgs.models import OrgScoped

LIVE_URL = "https://api-m.paypal.com"
SANDBOX_URL = "https://api-m.sandbox.paypal.com"


class PaypalAccount(OrgScoped):
    """A PayPal REST app's credentials. One without a location serves every location of the
    organisation that has none of its own."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 help_text="Leave empty to serve every location without an account of its own.")
    base_url = models.URLField("API base URL", default=SANDBOX_URL,
                               help_text=f"{LIVE_URL} (live) or {SANDBOX_URL} (PayPal's sandbox).")
    client_id = models.CharField("client ID", max_length=200)
    secret_encrypted = models.TextField(blank=True, editable=False)
    webhook_id = models.CharField("webhook ID", max_length=100, blank=True,
                                  help_text="The id PayPal shows for the webhook pointing at passgate "
                                            "(needed to verify the webhooks).")
    brand_name = models.CharField(max_length=127, blank=True, help_text="Shown to the payer on PayPal's pages.")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "location"], name="paypal_account_location"),
            models.UniqueConstraint(fields=["organisation"], condition=Q(location__isnull=True),
                                    name="paypal_account_organisation"),
        ]
        verbose_name = "PayPal account"

    def __str__(self) -> str:
        return f"PayPal {self.client_id[:12]}… ({self.location or 'all locations'})"


class PaymentStatus(models.TextChoices):
    CREATED = "CREATED", "Created (waiting for the payer)"
    PENDING = "PENDING", "Captured, pending at PayPal"
    COMPLETED = "COMPLETED", "Completed (ticket issued)"
    DECLINED = "DECLINED", "Declined"
    DENIED = "DENIED", "Denied"
    ABANDONED = "ABANDONED", "Abandoned by the payer"
    REVERSED = "REVERSED", "Approval reversed"
    REFUNDED = "REFUNDED", "Refunded (ticket cancelled)"
    FAILED = "FAILED", "PayPal unreachable"


class PaypalPayment(OrgScoped):
    """One purchase on the portal, from the order to the ticket. `reference` is ours: PayPal keeps it
    as the purchase unit's reference_id, custom_id and invoice_id."""

    reference = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(PaypalAccount, on_delete=models.PROTECT, related_name="payments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="+")
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    days = models.PositiveIntegerField(default=1)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    guest_email = models.CharField(max_length=254, blank=True, help_text="The address typed on the portal.")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.CREATED,
                              db_index=True)
    order_id = models.CharField("PayPal order", max_length=40, blank=True, db_index=True)
    capture_id = models.CharField("PayPal capture", max_length=40, blank=True, db_index=True)
    payer_email = models.CharField(max_length=254, blank=True)
    ticket = models.ForeignKey(GuestTicket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "PayPal payment"

    def __str__(self) -> str:
        return f"{self.reference} {self.status}"


class PaypalWebhookEvent(OrgScoped):
    """Every webhook received. A genuine event is kept once by its id (a repeat is acknowledged and
    does nothing); a forged one is kept too, unverified, so the operator sees it — and since a forger
    picks the id, only verified events count for the "seen already" check."""

    account = models.ForeignKey(PaypalAccount, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=80)
    resource_id = models.CharField(max_length=100, blank=True)
    verified = models.BooleanField()
    received_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["organisation", "event_id"], condition=Q(verified=True),
                                               name="paypal_webhook_event_once")]
        verbose_name = "PayPal webhook event"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
