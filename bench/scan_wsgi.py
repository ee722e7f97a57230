"""WSGI entry point for the scan benchmark: passgate's own application, plus a
`Server-Timing: app;dur=…` entry measuring the whole Django request (middleware,
routing, auth, decision, serialisation) — what the server-side p50/p99 report."""

from __future__ import annotations

import time

from passgate.wsgi import application as django_application


def application(environ, start_response):
    t0 = time.perf_counter()

    def timed_start_response(status, headers, exc_info=None):
        # Django builds the whole (non-streaming) response before calling start_response.
        dur = (time.perf_counter() - t0) * 1000
        headers = [(k, v) for k, v in headers if k.lower() != "server-timing"] + [
            ("Server-Timing", f"app;dur={dur:.3f}" + "".join(
                f", {v}" for k, v in headers if k.lower() == "server-timing"))]
        return start_response(status, headers, exc_info)

    return django_application(environ, timed_start_response)
