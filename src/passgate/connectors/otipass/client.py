"""The Otipass wire format (CONTRACTS.md "Otipass"), all of it and nowhere else.

Base `{url}/{project}/v1` (the interface URL ends with `/api`), HTTP Basic auth with the user
name and the API key. Every answer is parsed strictly: a body that is not the shape the contract
gives is a PartnerError naming what was found, never a KeyError deeper down.

A door call may carry a time budget (`budget(seconds)`): every attempt's timeouts are cut to what
remains, and a retry (backoff or Retry-After) that would end past it is not waited for
(`BudgetSpent`). Batch calls have no budget and wait a Retry-After out (PartnerClient)."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from passgate.jobs.partner_http import (
    GuardedBackend,
    PartnerClient,
    PartnerError,
    RetryPolicy,
    guarded_transport,
)

STATES = ("CREATED", "INACTIVE", "ACTIVE", "EXPIRED", "INVALID", "BLOCKED", "ALREADY_CHECKED", "OUT_OF_SYSTEM")
REASONS = ("UNKNOWN", "INACTIVE", "EXPIRED", "INVALID", "BLOCKED", "ALREADY_CHECKED", "SERVICE_NOT_INCLUDED")

_budget = threading.local()  # .deadline: time.monotonic() value the current door call must end by


class BudgetSpent(PartnerError):
    """The door's time budget with the partner is spent (retries included)."""


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Calls made by this thread inside the block end within `seconds`, retries included."""
    previous = getattr(_budget, "deadline", None)
    _budget.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _budget.deadline = previous


def _remaining() -> float | None:
    deadline = getattr(_budget, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


class _BudgetedTransport(httpx.HTTPTransport):
    """Cuts each attempt's connect/read/write timeouts to what remains of the budget."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        remaining = _remaining()
        if remaining is not None:
            if remaining <= 0:
                raise httpx.ConnectTimeout("the door's time budget is spent", request=request)
            timeouts = dict(request.extensions.get("timeout") or {})
            request.extensions["timeout"] = {k: min(v, remaining) if v is not None else remaining
                                             for k, v in {**dict.fromkeys(("connect", "read", "write", "pool")),
                                                          **timeouts}.items()}
        return super().handle_request(request)


def _transport() -> httpx.HTTPTransport:
    transport = _BudgetedTransport()
    if guarded_transport() is not None:  # no proxy: connect only to addresses checked just before
        pool = transport._pool
        if isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend"):
            pool._network_backend = GuardedBackend(pool._network_backend)
    return transport


def _sleep_within_budget(seconds: float) -> None:
    remaining = _remaining()
    if remaining is not None and seconds >= remaining:
        raise BudgetSpent(f"Otipass asked to wait {seconds:.2f} s; the door's budget has {max(remaining, 0):.2f} s "
                          "left", expected="an answer within the door's time budget",
                          found=f"a wait of {seconds:.2f} s")
    time.sleep(seconds)


# ---------------------------------------------------------------- answers

@dataclass(frozen=True)
class Pass:
    number: str
    kind: str
    state: str
    product_ref: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    included_services: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class UsageAnswer:
    accepted: bool
    reason: str = ""  # one of REASONS when refused
    recorded_late: bool = False  # an offline usage refused at its time, recorded all the same
    usage_id: str = ""
    pass_: Pass | None = None


@dataclass(frozen=True)
class WhitelistPage:
    passes: list[Pass]
    next_cursor: str


def _garbage(what: str, expected: str, found: Any) -> PartnerError:
    shown = repr(found)
    return PartnerError(f"Otipass answered {what} with an unexpected shape", partner_code="GARBAGE",
                        expected=expected, found=shown[:200] if len(shown) <= 200 else shown[:197] + "…")


def _object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise _garbage(what, "a JSON object", response.text[:200]) from None
    if not isinstance(body, dict):
        raise _garbage(what, "a JSON object", body)
    return body


def _text(body: dict, key: str, what: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _garbage(what, f"{key}: a non-empty string", value)
    return value


def _time(body: dict, key: str, what: str) -> dt.datetime | None:
    value = _text(body, key, what, optional=True)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _garbage(what, f"{key}: an ISO 8601 date-time", value) from None
    if moment.tzinfo is None:
        raise _garbage(what, f"{key}: a date-time with its offset", value)
    return moment.astimezone(dt.UTC)


def parse_pass(body: Any, what: str = "a pass") -> Pass:
    if not isinstance(body, dict):
        raise _garbage(what, "a pass object", body)
    state = _text(body, "state", what)
    if state not in STATES:
        raise _garbage(what, "state: one of " + ", ".join(STATES), state)
    services = body.get("includedServices")
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise _garbage(what, "includedServices: a list of service ids", services)
    return Pass(number=_text(body, "number", what), kind=_text(body, "kind", what), state=state,
                product_ref=_text(body, "productRef", what), valid_from=_time(body, "validFrom", what),
                valid_until=_time(body, "validUntil", what),
                included_services=tuple(s.upper() for s in services), raw=body)


def parse_usage(status: int, body: dict[str, Any]) -> UsageAnswer:
    what = f"a usage (HTTP {status})"
    accepted = body.get("accepted")
    if not isinstance(accepted, bool):
        raise _garbage(what, "accepted: true or false", accepted)
    if accepted:
        if status not in (200, 201):
            raise _garbage(what, "an accepted usage with HTTP 201", f"HTTP {status}")
        return UsageAnswer(True, usage_id=_text(body, "usageId", what),
                           pass_=parse_pass(body["pass"], what) if body.get("pass") is not None else None)
    reason = body.get("reason")
    if reason not in REASONS:
        raise _garbage(what, "reason: one of " + ", ".join(REASONS), reason)
    late = body.get("recordedLate", False)
    if not isinstance(late, bool):
        raise _garbage(what, "recordedLate: true or false", late)
    if late != (status in (200, 201)):
        raise _garbage(what, "recordedLate with HTTP 200, a refusal with HTTP 422", f"HTTP {status}, "
                       f"recordedLate {late}")
    return UsageAnswer(False, reason=reason, recorded_late=late,
                       usage_id=body.get("usageId") if isinstance(body.get("usageId"), str) else "")


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- the client

class OtipassClient(PartnerClient):
    partner = "Otipass"

    def __init__(self, base_url: str, *, project: str, username: str, api_key: str, **kwargs: Any) -> None:
        kwargs.setdefault("secrets", [api_key])
        kwargs.setdefault("transport", _transport())
        kwargs.setdefault("sleep", _sleep_within_budget)
        self.project = project
        super().__init__(f"{base_url.rstrip('/')}/{project}/v1", auth=(username, api_key),
                         headers={"Accept": "application/json"}, **kwargs)

    @classmethod
    def for_door(cls, interface: Any, api_key: str, timeout: float) -> OtipassClient:
        """A client for scans: short timeouts, quick retries, a Retry-After longer than the
        budget is not waited for (the door falls back instead)."""
        params = interface.parameters or {}
        return cls(interface.url, project=params.get("OtipassProjectId", ""), username=interface.username,
                   api_key=api_key, connect_timeout=timeout, read_timeout=timeout,
                   retry=RetryPolicy(max_attempts=3, backoff_base=0.1, backoff_max=0.4, max_retry_after=timeout))

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return super().request(method, path, **kw)
        except PartnerError as exc:
            if exc.status == 404 and "unknown project" in str(exc.found):
                raise self._unknown_project() from None
            raise

    def _unknown_project(self) -> PartnerError:
        return PartnerError(f"Otipass does not know the project {self.project!r} (HTTP 404)", status=404,
                            field="parameters", partner_code="UNKNOWN_PROJECT",
                            expected="the OtipassProjectId Otipass gave", found=self.project)

    def get_pass(self, number: str) -> Pass | None:
        """The pass, or None when Otipass does not know the number."""
        response = self.get(f"/passes/{number}", accept=(404,))
        body = _object(response, "GET /passes/{number}")
        if response.status_code == 404:
            if body.get("reason") != "UNKNOWN":  # the project (or the path) is unknown, not the card
                raise self._unknown_project()
            return None
        return parse_pass(body, "GET /passes/{number}")

    def post_usage(self, number: str, *, service_id: str, pspace_id: str, used_at: dt.datetime, reference: str,
                   offline: bool) -> UsageAnswer:
        """One usage; Otipass is idempotent by `reference`, so the call may be repeated."""
        response = self.post("/usages", json={"number": number, "serviceId": service_id, "pspaceId": pspace_id,
                                              "usedAt": iso(used_at), "offline": offline, "reference": reference},
                             idempotent=True, accept=(422,))
        return parse_usage(response.status_code, _object(response, "POST /usages"))

    def whitelist(self, cursor: str | None, limit: int) -> WhitelistPage:
        """Passes changed since `cursor` (None: from the start), in the partner's order."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["changedSince"] = cursor
        body = _object(self.get("/passes", params=params), "GET /passes")
        passes = body.get("passes")
        if not isinstance(passes, list):
            raise _garbage("GET /passes", "passes: a list", passes)
        return WhitelistPage([parse_pass(p, "GET /passes") for p in passes],
                             _text(body, "nextCursor", "GET /passes"))
