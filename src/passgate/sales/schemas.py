"""API schemas of sales: contacts, orders (files) and tickets."""

# No `from __future__ import annotations` (pydantic reads these at runtime).
import datetime as dt
from typing import Annotated, Literal, Optional

from ninja import Schema
from pydantic import Field, field_validator

from passgate.apikit import DateIn, DateTimeIn, Id, Limit, Text

from .models import Gender, OrderStatus, PaymentMode, TicketStatus

PaymentModeName = Literal[tuple(PaymentMode.values)]  # type: ignore[valid-type]
GenderName = Literal[tuple(Gender.values)]  # type: ignore[valid-type]
OrderStatusName = Literal[tuple(OrderStatus.values)]  # type: ignore[valid-type]
TicketStatusName = Literal[tuple(TicketStatus.values)]  # type: ignore[valid-type]


def _t(max_length: int) -> type:
    return Annotated[Text, Field(max_length=max_length)]  # type: ignore[return-value]


class ListQuery(Schema):
    limit: Limit = Field(100, description="page size (1 to 1000)")
    cursor: Optional[Text] = Field(None, description="next_cursor of the previous page")


# ---------------------------------------------------------------- contacts

class ContactIn(Schema):
    number: _t(40) = Field("", description="empty: the next number is assigned")
    first_name: _t(100) = ""
    last_name: _t(100) = ""
    email: _t(254) = ""
    birth_date: Optional[DateIn] = None
    id_number: _t(60) = ""
    country_code: _t(2) = ""
    birth_region: _t(100) = ""
    birth_place: _t(100) = ""
    gender: GenderName = ""
    payment_modes: list[PaymentModeName] = Field(
        default_factory=list, description="modes this contact may use; empty = the ordinary ones")


class ContactPatch(Schema):
    number: Optional[_t(40)] = None
    first_name: Optional[_t(100)] = None
    last_name: Optional[_t(100)] = None
    email: Optional[_t(254)] = None
    birth_date: Optional[DateIn] = None
    id_number: Optional[_t(60)] = None
    country_code: Optional[_t(2)] = None
    birth_region: Optional[_t(100)] = None
    birth_place: Optional[_t(100)] = None
    gender: Optional[GenderName] = None
    payment_modes: Optional[list[PaymentModeName]] = None


class ContactOut(Schema):
    id: int
    number: str
    first_name: str
    last_name: str
    email: str
    birth_date: Optional[dt.date]
    id_number: str
    country_code: str
    birth_region: str
    birth_place: str
    gender: str
    payment_modes: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: Optional[str] = None


class ContactQuery(ListQuery):
    search: Optional[Text] = Field(None, description="part of the name, number or e-mail")
    number: Optional[Text] = Field(None, description="exact contact number")
    email: Optional[Text] = Field(None, description="exact e-mail (case-insensitive)")


class PersonOut(Schema):
    id: int
    number: str
    first_name: str
    last_name: str
    email: str


# ---------------------------------------------------------------- tickets

class TicketOut(Schema):
    id: int
    barcode: str
    status: str
    status_changed_at: dt.datetime
    order_id: int
    file_number: str
    product_id: int
    product_code: str
    performance_id: Optional[int]
    performance_code: Optional[str]
    tariff_id: int
    tariff_code: str
    category_id: Optional[int]
    category_code: Optional[str]
    seat: str
    contingent_code: Optional[str]
    price: str
    currency: str
    cultural_contact_id: Optional[int]
    beneficiary: Optional[PersonOut] = Field(description="the cultural contact, or else the buyer")
    printed_at: Optional[dt.datetime]
    printed_by: Optional[str] = Field(description="code of the point of sale that printed it")
    cancelled_at: Optional[dt.datetime]
    invalidated_at: Optional[dt.datetime]
    reprint_count: int
    previous_barcodes: list[str] = Field(description="barcodes replaced by reprints, invalid for ever")
    control_count: int
    first_controlled_at: Optional[dt.datetime]
    last_controlled_at: Optional[dt.datetime]
    inside: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: Optional[str] = None


class TicketQuery(ListQuery):
    status: Optional[TicketStatusName] = None
    product_id: Optional[Id] = None
    performance_id: Optional[Id] = None
    tariff_id: Optional[Id] = None
    category_id: Optional[Id] = None
    order_id: Optional[Id] = None
    file_number: Optional[Text] = None
    barcode: Optional[Text] = Field(None, description="current barcode, or one replaced by a reprint")
    updated_since: Optional[DateTimeIn] = Field(None, description="changed at or after (no offset: local time)")


class PrintIn(Schema):
    point_of_sale_id: Optional[Id] = None


# ---------------------------------------------------------------- orders

class OrderLineIn(Schema):
    product_id: Id
    tariff_id: Id
    performance_id: Optional[Id] = None
    category_id: Optional[Id] = None
    seat: _t(60) = ""
    cultural_contact_id: Optional[Id] = Field(None, description="the beneficiary; empty = the buyer")
    quantity: Annotated[int, Field(ge=1, le=100)] = 1


class OrderIn(Schema):
    channel_id: Id
    point_of_sale_id: Optional[Id] = None
    buyer_id: Optional[Id] = Field(None, description="empty: an anonymous buyer")
    payment_mode: PaymentModeName = "CARD"
    external_reference: Optional[_t(120)] = Field(
        None, description="idempotency key: the same reference on the same channel returns the same order")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=50)

    @field_validator("external_reference")
    @classmethod
    def _blank_is_none(cls, value: Optional[str]) -> Optional[str]:
        return value or None


class OrderOut(Schema):
    id: int
    file_number: str
    status: str
    channel_id: int
    channel_code: str
    point_of_sale_id: Optional[int]
    point_of_sale_code: Optional[str]
    buyer: Optional[PersonOut]
    payment_mode: str
    external_reference: Optional[str]
    total: str
    currency: str
    ticket_count: int
    created_at: dt.datetime
    cancelled_at: Optional[dt.datetime]
    created_by: str


class OrderDetailOut(OrderOut):
    tickets: list[TicketOut]


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: Optional[str] = None


class OrderQuery(ListQuery):
    file_number: Optional[Text] = None
    status: Optional[OrderStatusName] = None
    channel_id: Optional[Id] = None
    buyer_id: Optional[Id] = None
    external_reference: Optional[Text] = None
    created_since: Optional[DateTimeIn] = Field(None, description="created at or after (no offset: local time)")
