"""WSGI entry point for the Otipass benchmark: passgate's application plus a `Server-Timing`
header with the whole request (`app;dur=`) and the time spent waiting for Otipass inside the
door connector (`partner;dur=`), so the bench can report passgate's own time apart."""

from __future__ import annotations

import time

from passgate.wsgi import application as django_application  # sets Django up first


def application(environ, start_response):
    from passgate.connectors.otipass import door

    door.partner_time.ms = 0.0
    t0 = time.perf_counter()

    def timed_start_response(status, headers, exc_info=None):
        dur = (time.perf_counter() - t0) * 1000
        headers = [(k, v) for k, v in headers if k.lower() != "server-timing"] + [
            ("Server-Timing", f"app;dur={dur:.3f}, partner;dur={door.partner_time.ms:.3f}")]
        return start_response(status, headers, exc_info)

    return django_application(environ, timed_start_response)
