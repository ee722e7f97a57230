"""Errors raised by services. Each names the field at fault, what was expected
and what was found, so the API, the admin and the CLI can all show the same
sentence to a person."""

from __future__ import annotations

from typing import Any


class PassgateError(Exception):
    """Base of every business error. `code` is stable (clients may switch on it)."""

    code = "invalid"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        expected: Any = None,
        found: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.expected = expected
        self.found = found
        self.details: list[dict[str, Any]] = []

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "field": self.field, "message": self.message}
        if self.expected is not None:
            data["expected"] = str(self.expected)
        if self.found is not None:
            data["found"] = str(self.found)
        if self.details:
            data["errors"] = self.details
        return data

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(PassgateError):
    code = "invalid"
    http_status = 400


class WrongShape(InvalidInput):
    """The input does not have the documented shape (a list where text is expected,
    a character the databases refuse): 422, like the schema's own refusals."""

    http_status = 422


class BodyTooLarge(PassgateError):
    code = "body_too_large"
    http_status = 413


class NotFound(PassgateError):
    code = "not_found"
    http_status = 404


class Forbidden(PassgateError):
    code = "forbidden"
    http_status = 403


class Conflict(PassgateError):
    """The request is well-formed but the current state refuses it
    (an illegal status transition, a sold-out contingent, a duplicate code)."""

    code = "conflict"
    http_status = 409


def shown(value: Any, limit: int = 100) -> str:
    """A value as an error's `found`: a list or an object by its kind (never dumped
    whole), text quoted with its control characters and lone surrogates escaped."""
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 4] + "…'"
    return str(value)[:limit]


def expect_text(value: Any, field: str, *, optional: bool = True) -> str:
    """Raw input (a `list[Any]` item) that must be text: a list or an object there is
    a 422 naming the field, not a crash further down (`str([...])`, an unhashable key)."""
    if value is None and optional:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise WrongShape("must be text", field=field, expected="a string", found=shown(value))
    return str(value)


def from_validation_error(exc: Any) -> InvalidInput:
    """Django's ValidationError (from full_clean) → InvalidInput naming every field."""
    details: list[dict[str, Any]] = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                message = error.message % error.params if error.params else error.message
                code = "duplicate" if error.code in {"unique", "unique_together"} else "invalid"
                details.append({"code": code, "field": None if field == "__all__" else field,
                                "message": str(message)})
    else:
        details = [{"code": "invalid", "field": None, "message": str(m)} for m in exc.messages]
    first = details[0] if details else {"code": "invalid", "field": None, "message": "invalid input"}
    error = InvalidInput(first["message"], field=first["field"], code=first["code"])
    error.details = details
    return error
