"""API schemas of the catalogue: what a client sends (…In), may patch (…Patch,
derived: every field optional) and receives (…Out). Related objects are named by
id in input (`product_id`) and by id and code in output."""

# No `from __future__ import annotations`: pydantic.create_model below needs real types.
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, create_model

from passgate.apikit import DateIn, DateTimeIn, Id, Limit, Text

from .models import ChannelType, Family, Validity

Code = Annotated[Text, Field(min_length=1, max_length=40)]
Name = Annotated[Text, Field(max_length=200)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Price = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]

FamilyName = Literal[tuple(Family.values)]  # type: ignore[valid-type]
ValidityName = Literal[tuple(Validity.values)]  # type: ignore[valid-type]
ChannelTypeName = Literal[tuple(ChannelType.values)]  # type: ignore[valid-type]


def patch_of(schema: type[Schema]) -> type[Schema]:
    """The PATCH body of a resource: the create body with every field optional."""
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (annotation | None, Field(default=None, description=info.description))
    name = schema.__name__.removesuffix("In") + "Patch"
    return create_model(name, __base__=Schema, **fields)


def page_of(schema: type[Schema]) -> type[Schema]:
    name = schema.__name__.removesuffix("Out") + "Page"
    return create_model(name, __base__=Schema, items=(list[schema], ...), next_cursor=(str | None, None))


class ListQuery(Schema):
    limit: Limit = Field(100, description="page size (1 to 1000)")
    cursor: Text | None = Field(None, description="next_cursor of the previous page")


class CodeQuery(ListQuery):
    code: Text | None = Field(None, description="exact code")


# ---------------------------------------------------------------- seasons

class SeasonIn(Schema):
    code: Code
    name: Name
    starts_on: DateIn | None = None
    ends_on: DateIn | None = None


class SeasonOut(Schema):
    id: int
    code: str
    name: str
    starts_on: dt.date | None
    ends_on: dt.date | None


class SeasonQuery(CodeQuery):
    pass


# ---------------------------------------------------------------- products

class ProductIn(Schema):
    season_id: Id
    code: Code
    name: Name
    family: FamilyName
    validity: ValidityName = "NONE"
    valid_from: DateTimeIn | None = None
    valid_until: DateTimeIn | None = None
    validity_hours: Annotated[int, Field(ge=1, le=2 ** 31 - 1)] | None = None
    max_controls: Count | None = Field(None, description="empty = unlimited")
    max_controls_per_day: Count | None = None
    capacity: Count | None = Field(None, description="empty = unlimited")


class ProductOut(Schema):
    id: int
    season_id: int
    season_code: str
    code: str
    name: str
    family: str
    validity: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    validity_hours: int | None
    max_controls: int | None
    max_controls_per_day: int | None
    capacity: int | None
    sold_count: int


class ProductQuery(CodeQuery):
    season_id: Id | None = None
    family: FamilyName | None = None


# ---------------------------------------------------------------- performances

class PerformanceIn(Schema):
    product_id: Id
    code: Code
    name: Name = ""
    starts_at: DateTimeIn
    ends_at: DateTimeIn
    doors_open_at: DateTimeIn | None = None
    venue_site: Annotated[Text, Field(max_length=200)] = ""
    venue_city: Annotated[Text, Field(max_length=100)] = ""
    venue_country_code: Annotated[Text, Field(max_length=2)] = ""
    venue_zip: Annotated[Text, Field(max_length=20)] = ""
    capacity: Count | None = Field(None, description="empty = unlimited")


class PerformanceOut(Schema):
    id: int
    product_id: int
    product_code: str
    code: str
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    doors_open_at: dt.datetime | None
    venue_site: str
    venue_city: str
    venue_country_code: str
    venue_zip: str
    capacity: int | None
    sold_count: int


class PerformanceQuery(CodeQuery):
    product_id: Id | None = None
    starts_after: DateTimeIn | None = Field(None, description="starts at or after")
    starts_before: DateTimeIn | None = Field(None, description="starts before")


# ---------------------------------------------------------------- tariffs, categories

class TariffIn(Schema):
    product_id: Id
    code: Code
    name: Name
    price: Price


class TariffOut(Schema):
    id: int
    product_id: int
    product_code: str
    code: str
    name: str
    price: str


class TariffQuery(CodeQuery):
    product_id: Id | None = None


class CategoryIn(Schema):
    product_id: Id
    code: Code
    name: Name


class CategoryOut(Schema):
    id: int
    product_id: int
    product_code: str
    code: str
    name: str


class CategoryQuery(CodeQuery):
    product_id: Id | None = None


# ---------------------------------------------------------------- channels, points of sale

class ChannelIn(Schema):
    code: Code
    name: Name
    type: ChannelTypeName = "INTERNAL"


class ChannelOut(Schema):
    id: int
    code: str
    name: str
    type: str


class ChannelQuery(CodeQuery):
    type: ChannelTypeName | None = None


class PointOfSaleIn(Schema):
    channel_id: Id
    code: Code
    name: Name


class PointOfSaleOut(Schema):
    id: int
    channel_id: int
    channel_code: str
    code: str
    name: str


class PointOfSaleQuery(CodeQuery):
    channel_id: Id | None = None


# ---------------------------------------------------------------- contingents

class ContingentIn(Schema):
    code: Code
    name: Name
    channel_id: Id
    product_id: Id
    performance_id: Id | None = Field(None, description="empty = the whole product")
    quota: Count


class ContingentOut(Schema):
    id: int
    code: str
    name: str
    channel_id: int
    channel_code: str
    product_id: int
    product_code: str
    performance_id: int | None
    performance_code: str | None
    quota: int
    sold_count: int


class ContingentQuery(CodeQuery):
    channel_id: Id | None = None
    product_id: Id | None = None
    performance_id: Id | None = None
