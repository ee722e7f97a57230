"""The catalogue: seasons, products by family, performances, tariffs, seat
categories, sales channels, points of sale and contingents."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from passgate.orgs.models import OrgScoped, code_validator
from passgate.orgs.timezones import format_local


class Season(OrgScoped):
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="season_code_unique")]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": f"must not be before starts_on ({self.starts_on})"})


class Family(models.TextChoices):
    EVENT = "EVENT", "Event"
    MATCH = "MATCH", "Match"
    OPEN_PASS = "OPEN_PASS", "Open pass"
    SERVICE = "SERVICE", "Service"
    MEMBERSHIP = "MEMBERSHIP", "Membership"
    SEASON_TICKET = "SEASON_TICKET", "Season ticket"


FAMILIES_WITH_PERFORMANCES = frozenset({Family.EVENT, Family.MATCH})


class Validity(models.TextChoices):
    NONE = "NONE", "No validity window (performance times apply)"
    FIXED = "FIXED", "Fixed window"
    FROM_FIRST_CONTROL = "FROM_FIRST_CONTROL", "Duration from first control"


class Product(OrgScoped):
    season = models.ForeignKey(Season, on_delete=models.PROTECT, related_name="products")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=20, choices=Family.choices)
    # Open passes (and memberships, season tickets) carry their own validity.
    validity = models.CharField(max_length=20, choices=Validity.choices, default=Validity.NONE)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    validity_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a validity that starts at first control (24, 48, 72…)."
    )
    # None = unlimited: the seeds say an open pass "can be controlled several times".
    max_controls = models.PositiveIntegerField(null=True, blank=True)
    max_controls_per_day = models.PositiveIntegerField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    sold_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["season__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "season", "code"], name="product_code_unique_in_season"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def has_performances(self) -> bool:
        return self.family in FAMILIES_WITH_PERFORMANCES

    @property
    def single_entry(self) -> bool:
        """Events and matches admit once; passes follow max_controls."""
        return self.has_performances

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.validity == Validity.FIXED:
            if not self.valid_from or not self.valid_until:
                errors["valid_from"] = "a fixed validity needs valid_from and valid_until"
            elif self.valid_until <= self.valid_from:
                errors["valid_until"] = f"must be after valid_from ({self.valid_from.isoformat()})"
        if self.validity == Validity.FROM_FIRST_CONTROL and not self.validity_hours:
            errors["validity_hours"] = "a validity from first control needs a number of hours"
        if self.validity != Validity.NONE and self.family in FAMILIES_WITH_PERFORMANCES:
            errors["validity"] = f"a {self.family} product is valid for its performances; expected NONE"
        if errors:
            raise ValidationError(errors)


class Performance(OrgScoped):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="performances")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    doors_open_at = models.DateTimeField(null=True, blank=True)
    venue_site = models.CharField(max_length=200, blank=True)
    venue_city = models.CharField(max_length=100, blank=True)
    venue_country_code = models.CharField(max_length=2, blank=True)
    venue_zip = models.CharField(max_length=20, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    sold_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["starts_at", "code"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="performance_code_unique_in_product"),
        ]

    def __str__(self) -> str:
        # Shown to people: the organisation's wall-clock time, not UTC.
        return f"{self.code} {format_local(self, self.starts_at, '%Y-%m-%d %H:%M', named=False)}".strip()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.product_id and self.product.family not in FAMILIES_WITH_PERFORMANCES:
            errors["product"] = (
                f"a {self.product.family} product has no performances; expected an EVENT or MATCH product"
            )
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = f"must be after starts_at ({self.starts_at.isoformat()})"
        if self.doors_open_at and self.starts_at and self.doors_open_at > self.starts_at:
            errors["doors_open_at"] = f"must not be after starts_at ({self.starts_at.isoformat()})"
        if errors:
            raise ValidationError(errors)

    @property
    def admission_opens_at(self):
        return self.doors_open_at or self.starts_at


class Tariff(OrgScoped):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="tariffs")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["product", "code"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="tariff_code_unique_in_product")]

    def __str__(self) -> str:
        return f"{self.code} ({self.price})"


class Category(OrgScoped):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["product", "code"]
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="category_code_unique_in_product")]

    def __str__(self) -> str:
        return self.code


class ChannelType(models.TextChoices):
    INTERNAL = "INTERNAL", "Internal (box office)"
    INTERNET = "INTERNET", "Internet"
    EXTERNAL_STX_FILE = "EXTERNAL_STX_FILE", "External sales (STX file)"
    EXTERNAL_PRINTING = "EXTERNAL_PRINTING", "External printing system"


class SalesChannel(OrgScoped):
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=ChannelType.choices, default=ChannelType.INTERNAL)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="channel_code_unique")]

    def __str__(self) -> str:
        return self.code


class PointOfSale(OrgScoped):
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="points_of_sale")
    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "points of sale"
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="pos_code_unique")]

    def __str__(self) -> str:
        return self.code


class Contingent(OrgScoped):
    """A quota of a product (or one performance) reserved to a sales channel."""

    code = models.CharField(max_length=40, validators=[code_validator])
    name = models.CharField(max_length=200)
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="contingents")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="contingents")
    performance = models.ForeignKey(
        Performance, null=True, blank=True, on_delete=models.CASCADE, related_name="contingents"
    )
    quota = models.PositiveIntegerField()
    sold_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="contingent_code_unique"),
            models.CheckConstraint(condition=models.Q(sold_count__lte=models.F("quota")),
                                   name="contingent_never_oversold"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.sold_count}/{self.quota})"

    def clean(self) -> None:
        if self.performance_id and self.product_id and self.performance.product_id != self.product_id:
            raise ValidationError({"performance": "must be a performance of the contingent's product"})
