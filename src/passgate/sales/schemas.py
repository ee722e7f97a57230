"""API schemas of sales: contacts, orders (files) and tickets."""

# No `from __future__ import annotations` (pydantic reads these at runtime).
import datetime as dt
from typing import Annotated, Literal

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
    cursor: Text | None = Field(None, description="next_cursor of the previous page")


# ---------------------------------------------------------------- contacts

class ContactIn(Schema):
    number: _t(40) = Field("", description="empty: the next number is assigned")
    first_name: _t(100) = ""
    last_name: _t(100) = ""
    email: _t(254) = ""
    birth_date: DateIn | None = None
    id_number: _t(60) = ""
    country_code: _t(2) = ""
    birth_region: _t(100) = ""
    birth_place: _t(100) = ""
    gender: GenderName = ""
    payment_modes: list[PaymentModeName] = Field(
        default_factory=list, description="modes this contact may use; empty = the ordinary ones")


class ContactPatch(Schema):
    number: _t(40) | None = None
    first_name: _t(100) | None = None
    last_name: _t(100) | None = None
    email: _t(254) | None = None
    birth_date: DateIn | None = None
    id_number: _t(60) | None = None
    country_code: _t(2) | None = None
    birth_region: _t(100) | None = None
    birth_place: _t(100) | None = None
    gender: GenderName | None = None
    payment_modes: list[PaymentModeName] | None = None


class ContactOut(Schema):
    id: int
    number: str
    first_name: str
    last_name: str
    email: str
    birth_date: dt.date | None
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
    next_cursor: str | None = None


class ContactQuery(ListQuery):
    search: Text | None = Field(None, description="part of the name, number or e-mail")
    number: Text | None = Field(None, description="exact contact number")
    email: Text | None = Field(None, description="exact e-mail (case-insensitive)")


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
    performance_id: int | None
    performance_code: str | None
    tariff_id: int
    tariff_code: str
    category_id: int | None
    category_code: str | None
    seat: str
    contingent_code: str | None
    price: str
    currency: str
    cultural_contact_id: int | None
    beneficiary: PersonOut | None = Field(description="the cultural contact, or else the buyer")
    printed_at: dt.datetime | None
    printed_by: str | None = Field(description="code of the point of sale that printed it")
    cancelled_at: dt.datetime | None
    invalidated_at: dt.datetime | None
    reprint_count: int
    previous_barcodes: list[str] = Field(description="barcodes replaced by reprints, invalid for ever")
    control_count: int
    first_controlled_at: dt.datetime | None
    last_controlled_at: dt.datetime | None
    inside: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None = None


class TicketQuery(ListQuery):
    status: TicketStatusName | None = None
    product_id: Id | None = None
    performance_id: Id | None = None
    tariff_id: Id | None = None
    category_id: Id | None = None
    order_id: Id | None = None
    file_number: Text | None = None
    barcode: Text | None = Field(None, description="current barcode, or one replaced by a reprint")
    updated_since: DateTimeIn | None = Field(None, description="changed at or after (no offset: local time)")


class PrintIn(Schema):
    point_of_sale_id: Id | None = None


class SendIn(Schema):
    recipient: _t(254) | None = Field(None, description="Where to send; the buyer's e-mail address when empty.")


class OrderEmailOut(Schema):
    id: int
    order_id: int
    recipient: str
    status: str = Field(description="QUEUED, SENT or FAILED")
    requested_by: str
    requested_at: dt.datetime
    sent_at: dt.datetime | None
    error: str


# ---------------------------------------------------------------- orders

class OrderLineIn(Schema):
    product_id: Id
    tariff_id: Id
    performance_id: Id | None = None
    category_id: Id | None = None
    seat: _t(60) = ""
    cultural_contact_id: Id | None = Field(None, description="the beneficiary; empty = the buyer")
    quantity: Annotated[int, Field(ge=1, le=100)] = 1


class OrderIn(Schema):
    channel_id: Id
    point_of_sale_id: Id | None = None
    buyer_id: Id | None = Field(None, description="empty: an anonymous buyer")
    payment_mode: PaymentModeName = "CARD"
    external_reference: _t(120) | None = Field(
        None, description="idempotency key: the same reference on the same channel returns the same order")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=50)

    @field_validator("external_reference")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class OrderOut(Schema):
    id: int
    file_number: str
    status: str
    channel_id: int
    channel_code: str
    point_of_sale_id: int | None
    point_of_sale_code: str | None
    buyer: PersonOut | None
    payment_mode: str
    external_reference: str | None
    total: str
    currency: str
    ticket_count: int
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    created_by: str


class OrderDetailOut(OrderOut):
    tickets: list[TicketOut]


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None = None


class OrderQuery(ListQuery):
    file_number: Text | None = None
    status: OrderStatusName | None = None
    channel_id: Id | None = None
    buyer_id: Id | None = None
    external_reference: Text | None = None
    created_since: DateTimeIn | None = Field(None, description="created at or after (no offset: local time)")


# ---------------------------------------------------------------- external sales

class ExternalLineIn(Schema):
    product: _t(40) = Field(description="product code")
    season: _t(40) | None = Field(None, description="season code, when the product code exists in several seasons")
    performance: _t(40) | None = Field(None, description="performance code (events and matches)")
    tariff: _t(40) = Field(description="tariff code of the product")
    quantity: Annotated[int, Field(ge=1, le=100)] = 1
    barcodes: list[Annotated[str, Field(pattern=r"^[!-~]{1,120}$")]] = Field(
        default_factory=list, max_length=100,
        description="the barcodes the partner printed, one per ticket, kept as they are; empty = passgate "
                    "issues them")


class ExternalSaleIn(Schema):
    order_number: _t(120) = Field(
        description="the partner's order number: the same number on the same channel returns the same order")
    channel: _t(40) = Field(description="code of an external sales channel (type EXTERNAL_STX_FILE)")
    buyer: _t(40) = Field(description="number of the buyer contact")
    payment_mode: PaymentModeName = Field("EXTERNAL", description="EXTERNAL (paid to the partner), or a mode "
                                          "the buyer may use, e.g. PENDING_ACCOUNT")
    lines: list[ExternalLineIn] = Field(min_length=1, max_length=50)

# ---------------------------------------------------------------- timeline

class TimelineEventOut(Schema):
    at: dt.datetime = Field(description="when, in the organisation's time zone")
    kind: str = Field(description="sale, print, reprint, cancel, invalidate, scan, partner, email, …")
    title: str
    actor: str = Field(description="who did it: user, token, device, job interface")
    detail: dict
    ticket_id: int | None = Field(description="the ticket; null for an event of the whole order")
    link: str = Field(description="back-office page of the event's record, if any")


class TimelineOut(Schema):
    items: list[TimelineEventOut]
