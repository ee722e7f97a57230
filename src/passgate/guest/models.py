"""Guest WiFi: locations and their NAS clients, access methods, guest tickets, their RADIUS
sessions and the Disconnect-Requests that cut them. Changed only through guest.services."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passgate.orgs.models import OrgScoped


class QrStyle(models.TextChoices):
    WIFI_PSK = "WIFI_PSK", "WIFI: code for a PSK network"
    PORTAL = "PORTAL", "captive-portal URL with the credentials"


class Location(OrgScoped):
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    ssid = models.CharField("SSID", max_length=32)
    wifi_password = models.CharField(max_length=64, blank=True,
                                     help_text="The network's pre-shared key, printed in the WIFI: QR code.")
    qr_style = models.CharField(max_length=10, choices=QrStyle.choices, default=QrStyle.PORTAL)
    portal_url = models.URLField(blank=True, help_text="Captive portal login page (QR style PORTAL).")
    deliver_print = models.BooleanField("print", default=True)
    deliver_email = models.BooleanField("e-mail", default=True)
    deliver_sms = models.BooleanField("SMS", default=False)
    # The captive portal (guest/portal): its languages, look, controller hand-off and SMS channel.
    languages = models.CharField(max_length=50, default="en,fr",
                                 help_text="Portal languages, comma-separated, first is the default (e.g. en,fr).")
    logo = models.CharField(max_length=200, blank=True,
                            help_text="Path of a static file shown on the portal, e.g. guest/portal/logo.svg "
                                      "(served by passgate: the portal works behind a walled garden).")
    controller_login_url = models.CharField(
        max_length=500, blank=True,
        help_text="Where the portal sends the guest after login, e.g. "
                  "http://{uamip}:{uamport}/logon?username={username}&password={password}&userurl={userurl}. "
                  "Blank: CoovaChilli's logon URL when the controller sent uamip/uamport, otherwise the "
                  "credentials are shown.")
    sms_method = models.ForeignKey("AccessMethod", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name="SMS request method",
                                   help_text="Access method of the tickets guests request by SMS (blank: no SMS "
                                             "request on the portal).")
    sms_countries = models.CharField(max_length=200, blank=True,
                                     help_text="Countries whose mobiles may request a code, e.g. FR,BE,CH. "
                                               "Blank: only the country of PASSGATE_SMS_REGION.")
    sms_per_number_per_day = models.PositiveIntegerField("SMS per number per day", default=3)
    # Sponsored access (guest.sponsor): who may vouch for a guest, which method they grant, and
    # how long a sponsor has to answer.
    sponsors_allowed = models.TextField(
        blank=True, help_text="Sponsors allowed to approve guests: e-mail addresses and/or domains such as "
                              "@example.com, separated by commas or new lines. Empty: no sponsored access.")
    sponsor_method = models.ForeignKey("AccessMethod", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", help_text="The access method a sponsor grants "
                                                                   "(Single or Variable).")
    sponsor_request_hours = models.PositiveIntegerField(
        default=24, help_text="Hours a sponsor has to answer; the approve and deny links expire then.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="guest_location_code")]

    def language_list(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

    def sms_country_list(self) -> list[str]:
        return [code.strip().upper() for code in self.sms_countries.split(",") if code.strip()]

    def __str__(self) -> str:
        return self.name


class NasClient(OrgScoped):
    """A hotspot controller / access point allowed to speak RADIUS for a location."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="nas_clients")
    name = models.CharField(max_length=100)
    network = models.CharField(max_length=50, help_text="IP address or network (CIDR), e.g. 10.0.0.0/24.")
    secret_encrypted = models.TextField(blank=True, editable=False)
    nas_identifier = models.CharField(max_length=64, blank=True)
    coa_port = models.PositiveIntegerField("CoA/Disconnect port", default=3799)

    class Meta:
        verbose_name = "NAS client"
        constraints = [models.UniqueConstraint(fields=["organisation", "network"], name="guest_nas_network")]

    def __str__(self) -> str:
        return f"{self.name} ({self.network})"


class Format(models.TextChoices):
    SINGLE = "SINGLE", "Single / Individual"
    VARIABLE = "VARIABLE", "Variable"
    SPECIAL = "SPECIAL", "Special"


class CountedFrom(models.TextChoices):
    FIRST_LOGIN = "FIRST_LOGIN", "first login"
    ISSUE = "ISSUE", "issue"


class AccessMethod(OrgScoped):
    """The seed's "predefined rate": what a ticket of this method allows."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="methods")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=10, choices=Format.choices)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0,
                                help_text="Price of a ticket (Variable: price per day).")
    currency = models.CharField(max_length=3, default="EUR")
    devices = models.PositiveIntegerField("simultaneous devices", default=1)
    bandwidth_up = models.PositiveBigIntegerField("upload bandwidth (bit/s)", null=True, blank=True)
    bandwidth_down = models.PositiveBigIntegerField("download bandwidth (bit/s)", null=True, blank=True)
    quota_bytes = models.PositiveBigIntegerField("data quota (bytes)", null=True, blank=True)
    idle_timeout = models.PositiveIntegerField("idle timeout (s)", null=True, blank=True)
    # Single
    duration = models.DurationField(null=True, blank=True, help_text="Single: how long a ticket lasts.")
    counted_from = models.CharField(max_length=12, choices=CountedFrom.choices, default=CountedFrom.FIRST_LOGIN)
    # Variable
    min_days = models.PositiveIntegerField(default=1)
    max_days = models.PositiveIntegerField(default=30)
    # Extra fields asked at issue: [{"name", "label", "type": text|email|phone|number|date, "required"}]
    extra_fields = models.JSONField(default=list, blank=True)
    extra_retention_days = models.PositiveIntegerField(default=30, help_text="Days the extra fields' values are "
                                                                             "kept, then purged.")
    active = models.BooleanField(default=True)
    # Sponsored access: a short ticket the guest gets at once while the sponsor decides, cut if
    # the sponsor declines.
    grace_minutes = models.PositiveIntegerField(
        "sponsor grace access (minutes)", default=0,
        help_text="Sponsored access with this method: minutes of access while the sponsor decides (0 = none).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="guest_method_code")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_format_display()})"


class TicketType(models.TextChoices):
    INDIVIDUAL = "INDIVIDUAL", "Individual ticket"
    VARIABLE = "VARIABLE", "Variable ticket"
    SPECIAL = "SPECIAL", "Special ticket"
    PAYPAL = "PAYPAL", "PayPal"
    SMS = "SMS", "SMS"
    SPONSOR = "SPONSOR", "Sponsor"
    PMS = "PMS", "PMS"
    API = "API", "API"


class GuestStatus(models.TextChoices):
    NO_USE = "NO_USE", "No use"
    IN_USE = "IN_USE", "In use"
    EXPIRED = "EXPIRED", "Expired"
    CANCELLED = "CANCELLED", "Cancelled"


class IssueBatch(OrgScoped):
    """One call of issue_tickets: the idempotency key of a client, who issued, how many."""

    client_reference = models.CharField(max_length=100, null=True, blank=True)
    method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=12, choices=TicketType.choices)
    count = models.PositiveIntegerField()
    issued_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Channels (EMAIL, SMS) the batch's ticket was sent by on the issuing request: a retry with the
    # same client reference sends only what is missing, never twice.
    delivered = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "client_reference"],
                                               condition=Q(client_reference__isnull=False),
                                               name="guest_batch_client_reference")]


class GuestTicket(OrgScoped):
    """A WiFi access ticket. What the method allowed is copied at issue, so editing a method
    never changes tickets already handed out."""

    serial = models.CharField(max_length=16)
    batch = models.ForeignKey(IssueBatch, on_delete=models.PROTECT, related_name="tickets")
    method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="tickets")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="tickets")
    type = models.CharField(max_length=12, choices=TicketType.choices)
    status = models.CharField(max_length=10, choices=GuestStatus.choices, default=GuestStatus.NO_USE)
    username = models.CharField(max_length=64)
    # Kept readable: FreeRADIUS checks PAP/CHAP/MS-CHAPv2 against control:Cleartext-Password, and a
    # slip can be printed again.
    password = models.CharField(max_length=64)
    user_id = models.CharField("user ID", max_length=254, blank=True, help_text="Recipient's e-mail or mobile.")
    created_at = models.DateTimeField(db_index=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Unset until first login when the "
                                                                       "duration counts from it.")
    duration = models.DurationField(null=True, blank=True)
    first_login_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    devices = models.PositiveIntegerField(default=1)
    quota_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    bandwidth_up = models.PositiveBigIntegerField(null=True, blank=True)
    bandwidth_down = models.PositiveBigIntegerField(null=True, blank=True)
    idle_timeout = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    extra = models.JSONField(default=dict, blank=True)
    extra_purged_at = models.DateTimeField(null=True, blank=True)
    # Hotel stays (type PMS): the guest logs in on the portal with room number and last name.
    room_number = models.CharField(max_length=20, blank=True)
    pms_reservation = models.CharField("PMS reservation", max_length=40, blank=True)
    last_name = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "guest ticket"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "serial"], name="guest_ticket_serial"),
            models.UniqueConstraint(fields=["organisation", "username"], name="guest_ticket_username"),
        ]
        indexes = [models.Index(fields=["organisation", "status"]), models.Index(fields=["organisation", "user_id"]),
                   models.Index(fields=["location", "room_number"], condition=~Q(room_number=""),
                                name="guest_ticket_room")]

    def __str__(self) -> str:
        return self.serial


class RadiusSession(OrgScoped):
    """One connection (accounting session), keyed by Acct-Unique-Session-Id."""

    ticket = models.ForeignKey(GuestTicket, on_delete=models.CASCADE, related_name="sessions")
    nas = models.ForeignKey(NasClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions")
    unique_id = models.CharField(max_length=64)
    acct_session_id = models.CharField(max_length=64, blank=True)
    username = models.CharField(max_length=64)
    nas_ip = models.GenericIPAddressField(null=True, blank=True)
    calling_station = models.CharField("MAC", max_length=50, blank=True)
    framed_ip = models.GenericIPAddressField("IP", null=True, blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    interim_interval = models.PositiveIntegerField(default=300)
    # updated_at + 3 × interim_interval: past it, the session no longer holds a device slot.
    stale_after = models.DateTimeField()
    session_time = models.PositiveBigIntegerField(default=0)
    input_octets = models.PositiveBigIntegerField("upload (bytes)", default=0)
    output_octets = models.PositiveBigIntegerField("download (bytes)", default=0)
    terminate_cause = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = "connection"
        constraints = [models.UniqueConstraint(fields=["organisation", "unique_id"], name="guest_session_unique")]
        indexes = [models.Index(fields=["ticket", "stopped_at"]),
                   models.Index(fields=["organisation", "stopped_at", "updated_at"])]

    def __str__(self) -> str:
        return self.unique_id


class CutReason(models.TextChoices):
    CANCELLED = "CANCELLED", "ticket cancelled"
    EXPIRED = "EXPIRED", "ticket expired"
    QUOTA = "QUOTA", "data quota used"
    QUOTA_LOW = "QUOTA_LOW", "data quota running low"


class RequestKind(models.TextChoices):
    DISCONNECT = "DISCONNECT", "Disconnect-Request"
    COA = "COA", "CoA-Request"


class DisconnectResult(models.TextChoices):
    PENDING = "PENDING", "to send"
    ACK = "ACK", "ACK"
    NAK = "NAK", "NAK"
    GAVE_UP = "GAVE_UP", "gave up"


class Disconnect(OrgScoped):
    """A Disconnect-Request, or a CoA-Request carrying new limits (RFC 5176), owed to a NAS for one
    open session; the sender records each attempt's answer here."""

    session = models.ForeignKey(RadiusSession, on_delete=models.CASCADE, related_name="disconnects")
    kind = models.CharField(max_length=10, choices=RequestKind.choices, default=RequestKind.DISCONNECT)
    nas = models.ForeignKey(NasClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=10, choices=CutReason.choices)
    attributes = models.JSONField(default=dict)
    requested_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=8, choices=DisconnectResult.choices, default=DisconnectResult.PENDING)
    error_cause = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "kind"], condition=Q(result="PENDING"),
                                               name="guest_one_pending_request_per_kind")]


class PortalAttempt(OrgScoped):
    """One counted attempt on the captive portal (a failed login, an SMS request…), kept in the
    database so every gunicorn worker sees the same counts (guest.portal.ratelimit)."""

    scope = models.CharField(max_length=20)
    key = models.CharField(max_length=100)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organisation", "scope", "key", "at"], name="guest_portal_attempt")]
class SponsorStatus(models.TextChoices):
    PENDING = "PENDING", "waiting for the sponsor"
    APPROVED = "APPROVED", "approved"
    DENIED = "DENIED", "denied"
    EXPIRED = "EXPIRED", "expired"


class SponsorRequest(OrgScoped):
    """A guest asking a sponsor for access (type SPONSOR). Its status is the single-use guard of
    the approve and deny links: it leaves PENDING once, under select_for_update."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="sponsor_requests")
    method = models.ForeignKey(AccessMethod, on_delete=models.PROTECT, related_name="+")
    guest_email = models.EmailField("guest's e-mail")
    guest_name = models.CharField("guest's name", max_length=200)
    sponsor_email = models.EmailField("sponsor's e-mail")
    status = models.CharField(max_length=10, choices=SponsorStatus.choices, default=SponsorStatus.PENDING)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="The sponsor's links stop working then.")
    decided_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(GuestTicket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    grace_ticket = models.ForeignKey(GuestTicket, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")

    class Meta:
        indexes = [models.Index(fields=["organisation", "status"]),
                   models.Index(fields=["guest_email", "created_at"]),
                   models.Index(fields=["client_address", "created_at"])]

    def __str__(self) -> str:
        return f"{self.guest_email} → {self.sponsor_email} ({self.status})"
