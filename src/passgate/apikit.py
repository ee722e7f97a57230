"""Small building blocks shared by the API routers (orgs, catalog, sales).

Kept apart from `passgate.api` so that a router module never imports the
NinjaAPI object at import time (which itself imports the routers)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field

from passgate.errors import InvalidInput, PassgateError

# Primary keys are 64-bit (BigAutoField); bigger numbers cannot name a row.
MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def _sane_datetime(value: dt.datetime) -> dt.datetime:
    # Years near 1 or 9999 overflow once converted between time zones.
    if not 1900 <= value.year <= 9000:
        raise ValueError("date out of range: expected a year between 1900 and 9000")
    return value


def _sane_date(value: dt.date) -> dt.date:
    if not 1 <= value.year <= 9999:  # pragma: no cover - pydantic already refuses these
        raise ValueError("date out of range")
    return value


def _plus_in_offset(value: object) -> object:
    # "+01:00" in a query string arrives as " 01:00" when the client forgot to encode "+".
    if isinstance(value, str):
        return _SPACE_OFFSET.sub(r"\1+\2", value)
    return value


_SPACE_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, AfterValidator(_no_nul)]
DateTimeIn = Annotated[dt.datetime, BeforeValidator(_plus_in_offset), AfterValidator(_sane_datetime)]
DateIn = Annotated[dt.date, AfterValidator(_sane_date)]
Limit = Annotated[int, Field(ge=1, le=1000)]
DEFAULT_LIMIT = 100


class ErrorOut(Schema):
    """Every error the API answers: a stable code, the field at fault, a message."""

    code: str
    field: str | None = None
    message: str
    expected: str | None = None
    found: str | None = None
    errors: list[dict[str, Any]] | None = None


# The error statuses every operation may answer (documented so clients and
# schemathesis know them).
ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                    409: ErrorOut, 422: ErrorOut}


def responses(ok: Any, status: int = 200, **more: Any) -> dict[int, Any]:
    out: dict[int, Any] = {status: ok}
    out.update(ERRORS)
    for code, schema in more.items():
        out[int(code)] = schema
    return out


def paginate(queryset, cursor: str | None, limit: int, serialize) -> dict[str, Any]:
    from passgate.api import paginate as _paginate

    return _paginate(queryset, cursor, limit, serialize)


# ---------------------------------------------------------------- time

@lru_cache(maxsize=256)
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local(value: dt.datetime | None, organisation) -> dt.datetime | None:
    """A stored (UTC) time shown in the organisation's time zone, with its offset."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(_zone(organisation.time_zone))


def aware(value: dt.datetime | None, organisation) -> dt.datetime | None:
    """An input time; without an offset it is read in the organisation's time zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=_zone(organisation.time_zone))


def not_null(fields: dict[str, Any], nullable: set[str]) -> None:
    """A PATCH may clear only the fields that may be empty."""
    for name, value in fields.items():
        if value is None and name not in nullable:
            raise InvalidInput("this field cannot be null", field=name, expected="a value", found="null")


def _input_name(name: str | None, refs: frozenset[str]) -> str | None:
    if not name:
        return name
    head, dot, last = name.rpartition(".")
    return f"{head}{dot}{last}_id" if last in refs else name


@contextmanager
def input_names(*refs: str) -> Iterator[None]:
    """Services name a related object by its model field ("lines[0].tariff"); the API
    client sent it as "..._id": name the field the way the client wrote it."""
    names = frozenset(refs)
    try:
        yield
    except PassgateError as exc:
        exc.field = _input_name(exc.field, names)
        for detail in exc.details:
            detail["field"] = _input_name(detail.get("field"), names)
        raise
