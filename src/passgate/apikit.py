"""Small building blocks shared by the API routers and the NinjaAPI itself:
input types, the error schema, pagination, the request-body parser and the
translation of pydantic's refusals into the project's words.

Routers import this module, never `passgate.api` (which imports the routers);
this module imports neither."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja import Schema
from ninja.parser import Parser
from pydantic import AfterValidator, BeforeValidator, Field

from passgate.errors import BodyTooLarge, InvalidInput, PassgateError, WrongShape, shown

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
                                    409: ErrorOut, 413: ErrorOut, 422: ErrorOut}


def responses(ok: Any, status: int = 200, **more: Any) -> dict[int, Any]:
    out: dict[int, Any] = {status: ok}
    out.update(ERRORS)
    for code, schema in more.items():
        out[int(code)] = schema
    return out


# ---------------------------------------------------------------- pagination

MAX_PAGE = 1000


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"id:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "cursor") -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id":
            raise ValueError
        after = int(value)
        if not 0 <= after < 2**63:  # beyond a 64-bit key the database would overflow
            raise ValueError
        return after
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("this cursor was not produced by passgate", field=field,
                           expected="the next_cursor of a previous page", found=cursor) from None


def paginate(queryset, cursor: str | None, limit: int, serialize) -> dict[str, Any]:
    """Keyset pagination by id: stable while rows are added, opaque to clients."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("page size out of range", field="limit", expected=f"1 to {MAX_PAGE}", found=limit)
    after = decode_cursor(cursor)
    rows = list(queryset.filter(pk__gt=after).order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [serialize(r) for r in rows],
        "next_cursor": encode_cursor(rows[-1].pk) if more and rows else None,
    }


# ---------------------------------------------------------------- request parsing

def max_body_bytes() -> int:
    return int(settings.PASSGATE_API_MAX_BODY_BYTES)


def body_too_large(size: int | str | None) -> BodyTooLarge:
    limit = max_body_bytes()
    return BodyTooLarge(f"the request body is larger than the API accepts ({limit} bytes)", field="body",
                        expected=f"at most {limit} bytes", found=f"{size} bytes" if size is not None else "more")


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    name = key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return f"{parent}.{name}" if parent else name


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(data: Any, root: str = "") -> None:
    """Walk decoded JSON (or query parameters): every string, and every object key,
    must be storable. A lone surrogate ("\\ud800") is not Unicode text: no database
    stores it (400). NUL is refused by PostgreSQL (422, like the schema's text
    types). Found once here, named by its path (`lines[0].note`)."""
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            _check_string(value, where or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                path = _path(where, key)
                if isinstance(key, str):
                    _check_string(key, path, key=True)
                stack.append((path, item))
        elif isinstance(value, list):
            stack.extend((_path(where, i), item) for i, item in enumerate(value))


def _check_string(value: str, field: str, key: bool = False) -> None:
    what = "this key" if key else "this text"
    if _has_lone_surrogate(value):
        raise InvalidInput(f"{what} contains a lone surrogate (half of a UTF-16 pair), which is not a character",
                           field=field, code="invalid_text", expected="valid Unicode text", found=shown(value))
    if "\x00" in value:
        raise WrongShape(f"{what} may not contain NUL characters", field=field,
                         expected="text without NUL (\\u0000)", found=shown(value))


class JsonParser(Parser):
    """ninja's JSON parser, plus: a body over PASSGATE_API_MAX_BODY_BYTES is a 413, and
    every string of the body and of the query is checked once (check_text), whatever
    the endpoint. ninja wraps a body error in HttpError(400); the API's handler
    answers the PassgateError found as its cause."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        body = request.body
        if len(body) > max_body_bytes():
            raise body_too_large(len(body))
        data = json.loads(body)
        check_text(data)
        return data

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        check_text(result)
        return result


# ---------------------------------------------------------------- pydantic's refusals, in our words

_SOURCES = {"body", "query", "path", "form", "header", "cookie", "file"}


def field_of(loc: list[Any] | tuple[Any, ...]) -> str | None:
    """ninja's location ("body", "payload", "lines", 0, "quantity") → "lines[0].quantity".
    The source, the parameter's own name and pydantic's union tags
    ("function-after[…]", "literal['A']") are not fields."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in ("payload", "query", "filters", "data", "body"):
            parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not re.search(r"[\[\](]", part):
            out = _path(out, part)
    return out or None


def _bound(ctx: dict[str, Any], key: str) -> Any:
    value = ctx.get(key)
    return value.isoformat() if hasattr(value, "isoformat") else value


_ISO_DATETIME = "an ISO 8601 date and time, e.g. 2026-05-01T19:30:00+02:00"
_ISO_DATE = "an ISO 8601 date, e.g. 2026-05-01"

# pydantic error type → (message, expected); expected may use the error's context.
_MESSAGES: dict[str, tuple[str, str]] = {
    "int_type": ("must be a whole number", "an integer"),
    "int_parsing": ("must be a whole number", "an integer"),
    "int_from_float": ("must be a whole number", "an integer"),
    "int_parsing_size": ("is too large a number", "an integer of at most 19 digits"),
    "float_type": ("must be a number", "a number"),
    "float_parsing": ("must be a number", "a number"),
    "finite_number": ("must be a finite number", "a finite number"),
    "decimal_type": ("must be a decimal number", "a decimal number, e.g. 12.50"),
    "decimal_parsing": ("must be a decimal number", "a decimal number, e.g. 12.50"),
    "decimal_max_digits": ("has too many digits", "at most {max_digits} digits"),
    "decimal_max_places": ("has too many decimal places", "at most {decimal_places} decimal places"),
    "decimal_whole_digits": ("has too many digits before the point", "at most {whole_digits} digits before the point"),
    "bool_type": ("must be true or false", "true or false"),
    "bool_parsing": ("must be true or false", "true or false"),
    "string_type": ("must be text", "a string"),
    "string_unicode": ("must be valid Unicode text", "valid Unicode text"),
    "string_too_short": ("is too short", "at least {min_length} characters"),
    "string_too_long": ("is too long", "at most {max_length} characters"),
    "string_pattern_mismatch": ("does not have the expected form", "text matching {pattern}"),
    "literal_error": ("is not one of the allowed values", "{expected}"),
    "enum": ("is not one of the allowed values", "{expected}"),
    "greater_than": ("is too small", "more than {gt}"),
    "greater_than_equal": ("is too small", "{ge} or more"),
    "less_than": ("is too large", "less than {lt}"),
    "less_than_equal": ("is too large", "{le} or less"),
    "multiple_of": ("is not a multiple of {multiple_of}", "a multiple of {multiple_of}"),
    "list_type": ("must be a list", "a list"),
    "tuple_type": ("must be a list", "a list"),
    "set_type": ("must be a list", "a list of distinct values"),
    "too_short": ("has too few items", "at least {min_length} items"),
    "too_long": ("has too many items", "at most {max_length} items"),
    "dict_type": ("must be an object", "an object"),
    "model_type": ("must be an object", "an object"),
    "model_attributes_type": ("must be an object", "an object"),
    "dataclass_type": ("must be an object", "an object"),
    "extra_forbidden": ("is not a field of this request", "only the documented fields"),
    "datetime_type": ("must be a date and time", _ISO_DATETIME),
    "datetime_parsing": ("must be a date and time", _ISO_DATETIME),
    "datetime_from_date_parsing": ("must be a date and time", _ISO_DATETIME),
    "datetime_object_invalid": ("is not a real date and time", _ISO_DATETIME),
    "timezone_aware": ("needs a time zone", _ISO_DATETIME),
    "timezone_naive": ("must not carry a time zone", "a date and time without offset"),
    "date_type": ("must be a date", _ISO_DATE),
    "date_parsing": ("must be a date", _ISO_DATE),
    "date_from_datetime_parsing": ("must be a date", _ISO_DATE),
    "date_from_datetime_inexact": ("must be a date without a time", _ISO_DATE),
    "time_type": ("must be a time", "HH:MM or HH:MM:SS"),
    "time_parsing": ("must be a time", "HH:MM or HH:MM:SS"),
    "time_delta_type": ("must be a duration", "an ISO 8601 duration or a number of seconds"),
    "time_delta_parsing": ("must be a duration", "an ISO 8601 duration or a number of seconds"),
    "uuid_type": ("must be a UUID", "a UUID, e.g. 0b6c7f4e-6d1b-4c3e-9f7a-2f1d3c4b5a69"),
    "uuid_parsing": ("must be a UUID", "a UUID, e.g. 0b6c7f4e-6d1b-4c3e-9f7a-2f1d3c4b5a69"),
    "uuid_version": ("is not a UUID of the right version", "a UUID version {expected_version}"),
    "url_type": ("must be a URL", "an http(s) URL"),
    "url_parsing": ("must be a URL", "an http(s) URL"),
    "url_syntax_violation": ("must be a URL", "an http(s) URL"),
    "url_scheme": ("has a scheme that is not allowed", "a URL starting with {expected_schemes}"),
    "url_too_long": ("is too long a URL", "at most {max_length} characters"),
    "json_invalid": ("must be valid JSON", "a JSON document"),
    "json_type": ("must be JSON text", "a JSON document as text"),
    "bytes_type": ("must be text", "a string"),
    "none_required": ("must be null", "null"),
    "union_tag_invalid": ("is not one of the allowed kinds", "{expected_tags}"),
    "union_tag_not_found": ("says not which kind it is", "the field {discriminator}"),
    "is_instance_of": ("has the wrong type", "{class}"),
}


def _found(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    value = err.get("input")
    if kind == "missing":
        return "nothing"
    if kind in ("string_too_long", "string_too_short") and isinstance(value, str):
        return f"{len(value)} characters"
    if kind in ("too_short", "too_long"):
        count = (err.get("ctx") or {}).get("actual_length")
        if count is not None:
            return f"{count} items"
    return shown(value)


def _clean_expected(text: str) -> str:
    # pydantic quotes the allowed values: "'A', 'B' or 'C'" → "A, B or C".
    return re.sub(r"'([^']*)'", r"\1", text)


def validation_detail(err: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error → {code, field, message, expected, found} in the project's words."""
    kind = err.get("type", "")
    ctx = {k: _bound(err.get("ctx") or {}, k) for k in (err.get("ctx") or {})}
    field = field_of(err.get("loc", ()))
    if kind in ("too_long", "too_short") and isinstance(err.get("input"), str):
        # A length constraint applied after a validator reports as a collection's.
        kind = f"string_{kind}"
        err = {**err, "type": kind}
    if kind == "missing":
        return {"code": "required", "field": field, "message": "this field is required",
                "expected": "a value", "found": "nothing"}
    if kind in _MESSAGES:
        message, expected = _MESSAGES[kind]
        try:
            message, expected = message.format(**ctx), expected.format(**ctx)
        except (KeyError, IndexError, ValueError):
            pass
        expected = _clean_expected(expected)
    elif kind in ("value_error", "assertion_error"):
        # Our own validators (Text, DateTimeIn…) already speak our words.
        message = str(ctx.get("error") or err.get("msg") or "is not valid")
        message = re.sub(r"^(Value error|Assertion failed), ", "", message)
        expected = "a valid value"
    else:
        message = str(err.get("msg") or "is not valid")
        message = message[:1].lower() + message[1:]
        expected = "a valid value"
    code = "unknown_field" if kind == "extra_forbidden" else "invalid"
    return {"code": code, "field": field, "message": message, "expected": expected, "found": _found(err)}


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every problem once per field (a union reports one per alternative)."""
    out: list[dict[str, Any]] = []
    seen: set[str | None] = set()
    for err in errors:
        detail = validation_detail(err)
        if detail["field"] in seen:
            continue
        seen.add(detail["field"])
        out.append(detail)
    return out


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
