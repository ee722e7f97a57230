"""The rlm_rest endpoints served straight from WSGI: FreeRADIUS calls passgate for every
Access-Request and every accounting packet, and Django's request cycle (URL resolving, sessions,
CSRF, authentication and message middleware) cost more than the decision itself. The handlers are
the same ones Django's views call (freeradius.py); only the plumbing differs.

passgate.wsgi wraps Django's application with RadiusFastPath; any other path goes to Django."""

from __future__ import annotations

import logging

from django.core import signals

from . import freeradius

log = logging.getLogger("passgate.guest.radius")
JSON_HEADERS = [("Content-Type", "application/json")]
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class RadiusFastPath:
    def __init__(self, application) -> None:
        self.application = application

    def __call__(self, environ, start_response):
        handler = freeradius.ENDPOINTS.get(environ.get("PATH_INFO", ""))
        if handler is None:
            return self.application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return self._respond(start_response, 405, b"")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        call = freeradius.Call(remote_addr=environ.get("REMOTE_ADDR", ""),
                               token=environ.get("HTTP_X_PASSGATE_TOKEN", ""),
                               nas_address=environ.get("HTTP_X_PASSGATE_NAS", ""), body=body)
        # Django's own signals: they recycle database connections (CONN_MAX_AGE, health checks)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            status, payload = freeradius.encode(handler(call))
        except Exception:
            log.exception("RADIUS %s failed", environ.get("PATH_INFO"))
            status, payload = 500, b""  # rlm_rest: fail; the NAS retries
        finally:
            signals.request_finished.send(sender=self.__class__)
        return self._respond(start_response, status, payload)

    @staticmethod
    def _respond(start_response, status: int, payload: bytes):
        headers = (JSON_HEADERS if payload else []) + [("Content-Length", str(len(payload)))]
        start_response(f"{status} {REASONS.get(status, '')}".strip(), headers)
        return [payload]
