"""The REST API: one NinjaAPI at /api/, routers per room under /api/v1/.

Every error is JSON with a stable `code`, the `field` at fault and a `message`
a person understands, with `expected` and `found`. Nothing a client sends
makes it answer 500: the body parser (apikit.JsonParser) refuses what no
database stores, the handlers below translate every refusal, and any path
under /api answers JSON."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import PathView
from ninja.security import HttpBearer

from passgate.apikit import ErrorOut, JsonParser, body_too_large, validation_details
from passgate.errors import PassgateError
from passgate.orgs.services import Actor, authenticate_token


class TokenAuth(HttpBearer):
    """Bearer API token of an organisation; request.auth becomes the Actor."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        return authenticate_token(token)


# ErrorOut lives in apikit so that routers can use it without importing this module.
ErrorOut = ErrorOut

TITLE = "passgate API"
VERSION = "1"

class PassgateAPI(NinjaAPI):
    """ninja drops the input of each validation error; an error here says what was
    found (shown by its kind for a list or an object, never dumped), so keep it."""

    def validation_error_from_error_contexts(self, error_contexts: list[Any]) -> ValidationError:
        errors: list[dict[str, Any]] = []
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(include_url=False):
                error["loc"] = (model.__ninja_param_source__,) + model.__ninja_flatten_map_reverse__.get(
                    error["loc"], error["loc"])
                if isinstance((error.get("ctx") or {}).get("error"), Exception):
                    error["ctx"]["error"] = str(error["ctx"]["error"])
                errors.append(dict(error))
        return ValidationError(errors)


api = PassgateAPI(
    title=TITLE,
    version=VERSION,
    description="Ticketing back office: catalogue, contacts, orders (files), tickets, access control, jobs.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=TokenAuth(),
    parser=JsonParser(),
)


def error_response(request: HttpRequest, status: int, payload: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, payload, status=status)


@api.exception_handler(PassgateError)
def on_passgate_error(request: HttpRequest, exc: PassgateError) -> HttpResponse:
    return error_response(request, exc.http_status, exc.as_dict())


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = validation_details(list(exc.errors))
    first = details[0] if details else {"code": "invalid", "field": None, "message": "invalid request",
                                        "expected": "a valid request", "found": "something else"}
    return error_response(request, 422, {**first, "errors": details})


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, {
        "code": "unauthenticated", "field": "Authorization",
        "message": "a valid bearer token is required (Authorization: Bearer <token>); it is missing, "
                   "unknown or revoked",
    })


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE before our parser sees it.
    return on_passgate_error(request, body_too_large(request.META.get("CONTENT_LENGTH")))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, PassgateError):  # refused by our parser; ninja wrapped it
        return on_passgate_error(request, cause)
    if isinstance(cause, RequestDataTooBig):
        return on_body_too_large(request, cause)
    message = str(exc)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        found = str(cause)[:200] if isinstance(cause, ValueError) else "something else"
        return error_response(request, 400, {"code": "invalid_json", "field": "body",
                                             "message": "the request body is not valid JSON",
                                             "expected": "a JSON document (UTF-8)", "found": found})
    return error_response(request, exc.status_code, {"code": "http_error", "field": None, "message": message})


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, HttpResponse):  # pragma: no cover
        return exc
    if isinstance(exc, Http404):
        return error_response(request, 404, {"code": "not_found", "field": None, "message": "not found"})
    logging.getLogger("passgate.api").exception("unexpected error")
    return error_response(request, 500, {"code": "server_error", "field": None,
                                         "message": "an unexpected error occurred; it has been logged"})


# ---------------------------------------------------------------- the index

def index_document() -> dict[str, Any]:
    return {"name": TITLE, "version": VERSION,
            "links": {"v1": "/api/v1/", "docs": "/api/docs", "openapi": "/api/openapi.json"}}


@api.get("/", auth=None, include_in_schema=False)
def index(request: HttpRequest) -> Any:
    return index_document()


def index_without_slash(request: HttpRequest) -> HttpResponse:
    """/api (no slash): the same index for GET/HEAD, a JSON refusal otherwise (no redirect
    that a POST could not follow)."""
    if request.method in ("GET", "HEAD"):
        return JsonResponse(index_document())
    response = JsonResponse({"code": "method_not_allowed", "field": None,
                             "message": "the API index only answers GET; the endpoints are under /api/v1/",
                             "expected": "GET", "found": request.method}, status=405)
    response["Allow"] = "GET, HEAD"
    return response


def register_routers() -> None:
    from passgate.catalog.api import router as catalog_router
    from passgate.orgs.api import router as orgs_router
    from passgate.sales.api import router as sales_router

    api.add_router("/v1/", orgs_router)
    api.add_router("/v1/catalog/", catalog_router)
    api.add_router("/v1/", sales_router)
    for module in ("passgate.access.api", "passgate.jobs.api", "passgate.guest.api",
                   "passgate.connectors.otipass.api", "passgate.connectors.tixngo.api"):
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
