"""The REST API: one NinjaAPI at /api/, routers per room under /api/v1/.

Every error is JSON with a stable `code`, the `field` at fault and a `message`
a person understands (plus `expected` / `found` when they help)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import PathView
from ninja.security import HttpBearer

from passgate.apikit import ErrorOut
from passgate.errors import InvalidInput, PassgateError
from passgate.orgs.services import Actor, authenticate_token


class TokenAuth(HttpBearer):
    """Bearer API token of an organisation; request.auth becomes the Actor."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        return authenticate_token(token)


# ErrorOut lives in apikit so that routers can use it without importing this module.
ErrorOut = ErrorOut


api = NinjaAPI(
    title="passgate API",
    version="1",
    description="Ticketing back office: catalogue, contacts, orders (files), tickets, access control, jobs.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=TokenAuth(),
)


def error_response(request: HttpRequest, status: int, payload: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, payload, status=status)


@api.exception_handler(PassgateError)
def on_passgate_error(request: HttpRequest, exc: PassgateError) -> HttpResponse:
    return error_response(request, exc.http_status, exc.as_dict())


def _field_of(loc: list[Any]) -> str | None:
    # ninja locations start with "body"/"query"/"path" and the parameter name.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header", "cookie", "payload")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or None


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = []
    for err in exc.errors:
        found = err.get("input")
        detail = {"code": "invalid", "field": _field_of(list(err.get("loc", []))), "message": err.get("msg", "")}
        if err.get("type") == "missing":
            detail["code"] = "required"
            detail["message"] = "this field is required"
        elif found is not None and not isinstance(found, dict | list):
            detail["found"] = str(found)[:200]
        details.append(detail)
    first = details[0] if details else {"code": "invalid", "field": None, "message": "invalid request"}
    return error_response(request, 422, {**first, "errors": details})


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, {
        "code": "unauthenticated", "field": "Authorization",
        "message": "a valid bearer token is required (Authorization: Bearer <token>); it is missing, "
                   "unknown or revoked",
    })


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        return error_response(request, 400, {"code": "invalid_json", "field": "body", "message": message,
                                             "expected": "a JSON document"})
    return error_response(request, exc.status_code, {"code": "http_error", "field": None, "message": message})


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    import logging

    if isinstance(exc, HttpResponse):  # pragma: no cover
        return exc
    from django.http import Http404

    if isinstance(exc, Http404):
        return error_response(request, 404, {"code": "not_found", "field": None, "message": "not found"})
    logging.getLogger("passgate.api").exception("unexpected error")
    return error_response(request, 500, {"code": "server_error", "field": None,
                                         "message": "an unexpected error occurred; it has been logged"})


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


def register_routers() -> None:
    from passgate.catalog.api import router as catalog_router
    from passgate.orgs.api import router as orgs_router
    from passgate.sales.api import router as sales_router

    api.add_router("/v1/", orgs_router)
    api.add_router("/v1/catalog/", catalog_router)
    api.add_router("/v1/", sales_router)
    for module in ("passgate.access.api", "passgate.jobs.api"):
        try:
            mod = __import__(module, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        api.add_router(getattr(mod, "PREFIX", "/v1/"), mod.router)
    # Last of all: any other path under /api/ is a JSON 404, not Django's HTML page.
    api.add_router("/", _unknown_router)


_unknown_router = Router()


@_unknown_router.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "/{path:path}",
                               auth=None, include_in_schema=False)
def unknown_route(request: HttpRequest, path: str) -> HttpResponse:
    return error_response(request, 404, {"code": "not_found", "field": None,
                                         "message": f"no such API endpoint: {request.method} /api/{path}"})


def _json_not_allowed(self: PathView) -> HttpResponse:
    """A known path with a method it does not have: 405 as JSON (ninja answers plain text)."""
    allowed = sorted({method for op in self.operations for method in op.methods})
    response = JsonResponse({"code": "method_not_allowed", "field": None,
                             "message": f"this endpoint does not answer this method; allowed: {', '.join(allowed)}",
                             "expected": ", ".join(allowed)}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


PathView._not_allowed = _json_not_allowed  # type: ignore[method-assign]


register_routers()
