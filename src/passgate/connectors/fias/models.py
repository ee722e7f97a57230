"""The FIAS links (one per location's hotel PMS), their status, and the postings to room bills
(PS records) with their answers. Changed only through connectors.fias.services."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passgate.guest.models import AccessMethod, GuestTicket, Location
from passgate.orgs.models import OrgScoped


class Encoding(models.TextChoices):
    UTF8 = "utf-8", "UTF-8"
    LATIN1 = "latin-1", "Latin-1 (ISO 8859-1)"


class PmsLink(OrgScoped):
    """How passgate reaches one hotel's PMS (passgate is the interface side, a TCP client), and
    what a check-in gives: a ticket of `access_method` (a Special method) until the departure day
    at `checkout_hour` (the location's time zone), with credentials from the two templates."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="pms_link")
    name = models.CharField(max_length=100)
    host = models.CharField(max_length=200)
    port = models.PositiveIntegerField()
    encoding = models.CharField(max_length=8, choices=Encoding.choices, default=Encoding.UTF8)
    checkout_hour = models.PositiveSmallIntegerField(default=12, help_text="Hour (0–23) the stays end on the "
                                                                           "departure day, local time.")
    username_template = models.CharField(max_length=100, default="{room}",
                                         help_text="Fields: {room}, {reservation}, {last_name}, {first_name}.")
    password_template = models.CharField(max_length=100, default="{last_name}")
    access_method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="+",
                                      help_text="A Special method: what a hotel stay's ticket allows.")
    allow_postings = models.BooleanField("charge to the room", default=True,
                                         help_text="Offer 'charge to my room' on the portal's buy page.")
    keepalive_seconds = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    # status, written by the `passgate pms` process
    connected = models.BooleanField(default=False, editable=False)
    connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_alive_at = models.DateTimeField("last LA", null=True, blank=True, editable=False)
    last_resync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        verbose_name = "PMS link"

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class PostingStatus(models.TextChoices):
    PENDING = "PENDING", "to send"
    SENT = "SENT", "sent, no answer yet"
    OK = "OK", "booked (PA OK)"
    REFUSED = "REFUSED", "refused"


class PmsPosting(OrgScoped):
    """A charge to a guest's room bill for WiFi bought on the portal. `sequence` is the P# sent in
    every PS for it — a re-send after a dropped link repeats it, so the PMS books it once — and the
    ticket is issued only when PA answers OK."""

    link = models.ForeignKey(PmsLink, on_delete=models.PROTECT, related_name="postings")
    sequence = models.PositiveIntegerField("P#")
    room_number = models.CharField(max_length=20)
    reservation = models.CharField(max_length=40, blank=True)
    last_name = models.CharField(max_length=100)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="+")
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=8, choices=PostingStatus.choices, default=PostingStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    answer = models.CharField("PA answer", max_length=200, blank=True)
    ticket = models.ForeignKey(GuestTicket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "PMS posting"
        constraints = [models.UniqueConstraint(fields=["link", "sequence"], name="fias_posting_sequence")]
        indexes = [models.Index(fields=["link", "status"], condition=Q(status__in=["PENDING", "SENT"]),
                                name="fias_posting_open")]

    def __str__(self) -> str:
        return f"P#{self.sequence} room {self.room_number}"


class InHouseManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(type="PMS", status__in=["NO_USE", "IN_USE"]).exclude(pms_reservation="")


class InHouseStay(GuestTicket):
    """The live hotel stays (PMS tickets with a reservation), for the back office's list."""

    objects = InHouseManager()

    class Meta:
        proxy = True
        verbose_name = "in-house stay"
