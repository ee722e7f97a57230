"""Access control: sectors, doors, devices, access rules, scans, offline
packages (change log), barcode lists, external barcodes and signed barcodes.

Business rules live in `services.py`; these are the tables."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passgate.catalog.models import Category, Performance, Product, Tariff
from passgate.orgs.models import Organisation, OrgScoped, code_validator
from passgate.sales.models import Ticket


class Direction(models.TextChoices):
    ENTRY = "ENTRY", "Entry"
    EXIT = "EXIT", "Exit"


class Decision(models.TextChoices):
    GRANTED = "GRANTED", "Granted"
    DENIED = "DENIED", "Denied"


class Reason(models.TextChoices):
    UNKNOWN_BARCODE = "UNKNOWN_BARCODE", "Unknown barcode"
    CANCELLED = "CANCELLED", "Ticket cancelled"
    INVALIDATED = "INVALIDATED", "Ticket invalidated or barcode replaced"
    WRONG_SECTOR = "WRONG_SECTOR", "Not valid in this sector"
    NOT_YET_VALID = "NOT_YET_VALID", "Not yet valid"
    EXPIRED = "EXPIRED", "Expired"
    ALREADY_CONTROLLED = "ALREADY_CONTROLLED", "Already controlled"
    MAX_CONTROLS_REACHED = "MAX_CONTROLS_REACHED", "Maximum number of entries reached"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED", "Maximum number of entries today reached"
    NOT_INSIDE = "NOT_INSIDE", "Exit of a ticket that is not inside"
    BLOCKED = "BLOCKED", "Barcode blocked"
    PARTNER_REFUSED = "PARTNER_REFUSED", "Refused by the partner"
    PARTNER_UNAVAILABLE = "PARTNER_UNAVAILABLE", "Partner unreachable"
    PARTNER_ERROR = "PARTNER_ERROR", "The partner's connector failed"


class Operation(models.TextChoices):
    """Operation names of the S-360 access-control API."""

    OK = "OK", "OK"
    FAIL = "FAIL", "FAIL"
    OFFLINE_OK = "OFFLINE_OK", "OFFLINE_OK"
    OFFLINE_FAIL = "OFFLINE_FAIL", "OFFLINE_FAIL"
    INVALIDATED_TICKET = "INVALIDATED_TICKET", "INVALIDATED_TICKET"
    CANCELLED_TICKET = "CANCELLED_TICKET", "CANCELLED_TICKET"


class ScanSource(models.TextChoices):
    DEVICE = "DEVICE", "Device (online)"
    OFFLINE = "OFFLINE", "Device (offline upload)"
    IMPORT = "IMPORT", "Third-party gate import"


class PostSync(models.TextChoices):
    NONE = "", "—"
    PENDING = "PENDING", "Pending"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class ConflictKind(models.TextChoices):
    DOUBLE_ENTRY = "DOUBLE_ENTRY", "Single-entry ticket admitted twice"
    CANCELLED_BEFORE_ENTRY = "CANCELLED_BEFORE_ENTRY", "Ticket cancelled before its entry"
    INVALIDATED_BEFORE_ENTRY = "INVALIDATED_BEFORE_ENTRY", "Ticket invalidated before its entry"
    REPLACED_BEFORE_ENTRY = "REPLACED_BEFORE_ENTRY", "Barcode replaced (reprint) before its entry"
    UNKNOWN_BARCODE_ADMITTED = "UNKNOWN_BARCODE_ADMITTED", "Unknown barcode admitted"
    OUT_OF_VALIDITY = "OUT_OF_VALIDITY", "Admitted outside its validity"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED", "Admitted beyond its entry limit"
    WRONG_SECTOR = "WRONG_SECTOR", "Admitted in a sector it is not valid for"


class AccessSettings(OrgScoped):
    """Per-organisation access-control settings (kept here, not in orgs)."""

    signed_barcodes = models.BooleanField(
        default=False,
        help_text="Issue barcodes that carry an Ed25519-signed payload, so an offline device can admit "
                  "a ticket sold after its last download.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    config_version = models.BigIntegerField(
        default=0, editable=False,
        help_text="Bumped when a row the scan decision caches changes (sector, door, rule, catalogue): "
                  "every process drops its cache when it sees a new value.")

    class Meta:
        verbose_name_plural = "access settings"
        constraints = [models.UniqueConstraint(fields=["organisation"], name="access_settings_one_per_org")]

    def __str__(self) -> str:
        return f"access settings of {self.organisation_id}"


class SigningKey(OrgScoped):
    """Ed25519 key pair for signed barcodes. The private key is encrypted at rest."""

    kid = models.PositiveIntegerField(help_text="Key id carried in each signed barcode.")
    public_key = models.CharField(max_length=64, help_text="Raw Ed25519 public key, base64url.")
    secret_key = models.TextField(help_text="Fernet-encrypted raw private key.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True,
                                      help_text="A retired key signs nothing new but still verifies.")

    class Meta:
        ordering = ["-kid"]
        constraints = [models.UniqueConstraint(fields=["organisation", "kid"], name="signing_key_kid_unique")]

    def __str__(self) -> str:
        return f"key {self.kid}"


class Sector(OrgScoped):
    code = models.CharField(max_length=40, validators=[code_validator],
                            help_text="Unique in the organisation (a connector maps each sector code once).")
    name = models.CharField(max_length=200)
    reentry_allowed = models.BooleanField(
        default=False, help_text="A single-entry ticket that exited may enter again.")
    interface = models.ForeignKey(
        "jobs.Interface", null=True, blank=True, on_delete=models.PROTECT, related_name="sectors",
        help_text="The partner interface whose cards this sector recognises and validates (e.g. an "
                  "Otipass interface); empty = passgate's own tickets only.")
    connector_options = models.JSONField(default=dict, blank=True)
    admit_when_partner_unreachable = models.BooleanField(
        default=True,
        help_text="When the partner cannot be reached online, admit a recognised card (as offline mode "
                  "does) and queue it for post-synchronisation.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="sector_code_unique")]

    def __str__(self) -> str:
        return self.code


class Door(OrgScoped):
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, related_name="doors",
                               help_text="A door belongs to exactly one sector.")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="door_code_unique")]

    def __str__(self) -> str:
        return self.code


class DeviceKind(models.TextChoices):
    SCANNER = "SCANNER", "Hand scanner"
    TURNSTILE = "TURNSTILE", "Turnstile"


class DeviceStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting for enrolment"
    ACTIVE = "ACTIVE", "Active"
    REVOKED = "REVOKED", "Revoked"


class Device(OrgScoped):
    door = models.ForeignKey(Door, on_delete=models.PROTECT, related_name="devices",
                             help_text="A device is linked to exactly one door.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=DeviceKind.choices, default=DeviceKind.SCANNER)
    status = models.CharField(max_length=20, choices=DeviceStatus.choices, default=DeviceStatus.PENDING)
    enrolment_code_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    enrolment_expires_at = models.DateTimeField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    token_prefix = models.CharField(max_length=12, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    token_rolled_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="device_name_unique")]

    def __str__(self) -> str:
        return self.name


class AccessRule(OrgScoped):
    """Which tickets may enter a sector: a product, optionally narrowed to a
    performance, a tariff and/or a category. When is decided by the product
    (performance: doors-open to end; pass: its validity)."""

    sector = models.ForeignKey(Sector, on_delete=models.CASCADE, related_name="rules")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    performance = models.ForeignKey(Performance, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sector", "product", "id"]

    def __str__(self) -> str:
        parts = [f"product {self.product_id}"]
        if self.performance_id:
            parts.append(f"performance {self.performance_id}")
        if self.tariff_id:
            parts.append(f"tariff {self.tariff_id}")
        if self.category_id:
            parts.append(f"category {self.category_id}")
        return f"{self.sector_id}: " + ", ".join(parts)

    def matches(self, product_id: int, performance_id: int | None, tariff_id: int | None,
                category_id: int | None) -> bool:
        return (self.product_id == product_id
                and (self.performance_id is None or self.performance_id == performance_id)
                and (self.tariff_id is None or self.tariff_id == tariff_id)
                and (self.category_id is None or self.category_id == category_id))


class ExternalBarcodeStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    BLOCKED = "BLOCKED", "Blocked"


class ExternalProductMapping(OrgScoped):
    """productCode → tariff: under which tariff an external barcode is sold."""

    source = models.CharField(max_length=40, help_text="Who issues these barcodes (e.g. otipass).")
    season_code = models.CharField(max_length=40)
    product_code = models.CharField(max_length=40)
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["source", "season_code", "product_code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "source", "season_code", "product_code"],
                                               name="external_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.source}:{self.season_code}/{self.product_code} → tariff {self.tariff_id}"


class ExternalBarcode(OrgScoped):
    """A barcode passgate did not issue (a partner's card), recognised offline
    and sellable later through its product-code → tariff mapping."""

    barcode = models.CharField(max_length=120)
    source = models.CharField(max_length=40)
    season_code = models.CharField(max_length=40)
    product_code = models.CharField(max_length=40)
    category_code = models.CharField(max_length=40, blank=True)
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=ExternalBarcodeStatus.choices,
                              default=ExternalBarcodeStatus.ACTIVE)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    block_reason = models.CharField(max_length=60, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The ticket it was sold as, once sold.")
    control_count = models.PositiveIntegerField(default=0)
    first_controlled_at = models.DateTimeField(null=True, blank=True)
    last_controlled_at = models.DateTimeField(null=True, blank=True)
    inside = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["barcode"]
        constraints = [models.UniqueConstraint(fields=["organisation", "barcode"], name="external_barcode_unique")]

    def __str__(self) -> str:
        return self.barcode


class Scan(OrgScoped):
    """Every scan, granted or denied, online, offline or imported."""

    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans")
    door = models.ForeignKey(Door, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_barcode = models.ForeignKey(ExternalBarcode, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    performance = models.ForeignKey(Performance, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    barcode = models.CharField(max_length=200, help_text="As read.")
    recorded_barcode = models.CharField(
        max_length=200, blank=True, help_text="Barcode under which a connector records the control.")
    nonce = models.CharField(max_length=100, blank=True)
    external_ref = models.CharField(max_length=150, null=True, blank=True,
                                    help_text="Idempotency key of an imported control.")
    source = models.CharField(max_length=10, choices=ScanSource.choices, default=ScanSource.DEVICE)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ENTRY)
    decision = models.CharField(max_length=7, choices=Decision.choices)
    reason = models.CharField(max_length=30, choices=Reason.choices, blank=True)
    operation = models.CharField(max_length=20, choices=Operation.choices)
    message = models.CharField(max_length=300, blank=True)
    scanned_at = models.DateTimeField()
    received_at = models.DateTimeField()
    response = models.JSONField(default=dict, blank=True, help_text="The answer given (replayed on retry).")
    connector = models.CharField(max_length=40, blank=True)
    postsync_status = models.CharField(max_length=10, choices=PostSync.choices, blank=True, default="")
    postsync_attempts = models.PositiveIntegerField(default=0)
    postsync_detail = models.CharField(max_length=300, blank=True)
    postsync_claim = models.CharField(max_length=32, blank=True, default="",
                                      help_text="The post-sync run handing this card to the partner now.")
    postsync_claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A run killed mid-way: its claims expire and are taken again.")
    conflict = models.CharField(max_length=30, choices=ConflictKind.choices, blank=True)
    gate = models.CharField(max_length=100, blank=True, help_text="Third-party gate of an imported control.")
    detail = models.CharField(max_length=300, blank=True,
                              help_text="What went wrong behind the decision (e.g. a connector's error).")

    class Meta:
        ordering = ["-scanned_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "nonce"], name="scan_device_nonce_unique",
                                    condition=Q(device__isnull=False)),
            models.UniqueConstraint(fields=["organisation", "external_ref"], name="scan_external_ref_unique",
                                    condition=Q(external_ref__isnull=False)),
        ]
        indexes = [
            models.Index(fields=["organisation", "scanned_at"], name="scan_org_time_idx"),
            models.Index(fields=["organisation", "barcode"], name="scan_barcode_idx"),
            models.Index(fields=["ticket", "decision"], name="scan_ticket_idx"),
            models.Index(fields=["performance", "sector", "decision"], name="scan_attendance_idx"),
            models.Index(fields=["connector", "postsync_status"], name="scan_postsync_idx",
                         condition=Q(postsync_status="PENDING")),
        ]

    def __str__(self) -> str:
        return f"{self.barcode} {self.decision} {self.reason}".strip()


class PartnerFallbackAdmission(OrgScoped):
    """A partner card admitted on detection while its partner was unreachable: once per sector per
    validity window (the organisation's calendar day unless the connector says otherwise), so a
    partner outage does not open the sector to every scan of one card."""

    sector = models.ForeignKey(Sector, on_delete=models.CASCADE, related_name="+")
    card = models.CharField(max_length=200, help_text="The card's barcode as read.")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    admitted_at = models.DateTimeField()
    door_code = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-admitted_at"]
        constraints = [models.UniqueConstraint(fields=["organisation", "sector", "card", "window_start"],
                                               name="partner_fallback_once_per_window")]

    def __str__(self) -> str:
        return f"{self.card} at {self.sector_id} from {self.window_start:%Y-%m-%d %H:%M}"


class ScanConflict(OrgScoped):
    """A conflict found when offline (or imported) history arrived."""

    kind = models.CharField(max_length=30, choices=ConflictKind.choices)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="conflicts")
    other_scan = models.ForeignKey(Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    barcode = models.CharField(max_length=200)
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    performance = models.ForeignKey(Performance, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=300, blank=True)
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [models.Index(fields=["organisation", "performance", "sector"], name="conflict_group_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.barcode}"


class DailyControl(models.Model):
    """Entries of a ticket per day, for products limited per day (conditional update)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "day"], name="daily_control_unique")]


class ChangeKind(models.TextChoices):
    TICKET = "TICKET", "Ticket changed"
    RETIRED = "RETIRED", "Barcode retired"
    EXTERNAL = "EXTERNAL", "External barcode changed"
    RESET = "RESET", "Sector rules changed: refetch in full"


class ChangeCounter(models.Model):
    """How far the organisation's change log was pruned. The sequence itself is
    sales.ChangeCounter (sales.changes.next_seq); `last_seq` here is the value carried
    over to it (migration 0005) and no longer moves."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    last_seq = models.BigIntegerField(default=0)
    pruned_through = models.BigIntegerField(
        default=0, help_text="Changes up to this sequence were deleted: older cursors restart in full.")


class AccessChange(models.Model):
    """The change log offline packages are built from (incremental updates)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=ChangeKind.choices)
    ref_id = models.BigIntegerField(null=True, blank=True, help_text="Ticket, external barcode or sector id.")
    barcode = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organisation", "seq", "id"], name="access_change_seq_idx")]
