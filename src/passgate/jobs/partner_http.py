"""One HTTP client base for every partner connector.

- explicit connect / read timeouts (never httpx's defaults by accident);
- retries with exponential backoff and jitter, only when repeating is safe:
  * a call marked idempotent (GET, HEAD, PUT, DELETE by default; a POST only
    when the caller says the partner is idempotent by id) is retried on
    connection errors, timeouts, dropped connections and 5xx;
  * any call is retried when the request certainly never reached the partner
    (connection refused / connect timeout) or the partner refused it with 429;
  * a non-idempotent call whose fate is unknown (5xx, read timeout, dropped
    connection) is NOT repeated: the error goes up to the function;
- honours `Retry-After` (seconds or HTTP date) on 429 and 503, up to a cap;
- never logs a secret: headers are never logged, and secret values are
  redacted from every message and recorded path;
- records each call's method, path, status and duration through `recorder`
  (the run context writes them on the execution);
- never calls into the internal network (`check_destination`): every
  connection it opens goes to an address checked just before, so a partner
  host name re-pointed at 169.254.169.254 or 10.x (DNS rebinding) is refused.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import socket
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from django.conf import settings

from passgate.errors import InvalidInput, PassgateError

logger = logging.getLogger("passgate.partner")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})

Recorder = Callable[..., None]


class _QuietBelowWarning(logging.Filter):
    """httpx logs every request's full URL at INFO (and httpcore its traces at
    DEBUG): a URL may carry an id or key, so passgate logs partner calls itself,
    redacted, and keeps only the warnings of these libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
              "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_QuietBelowWarning())


class PartnerError(PassgateError):
    """A partner call failed; `status` is the HTTP status (None: no answer)."""

    code = "partner_error"
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None, partner_code: str = "",
                 attempts: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("field", "url")
        super().__init__(message, **kwargs)
        self.status = status
        self.partner_code = partner_code
        self.attempts = attempts


# ---------------------------------------------------------------- where partner calls may go

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DESTINATION_EXPECTED = "a public partner address (or one listed in PASSGATE_PARTNER_ALLOWED_NETWORKS)"
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class DestinationRefused(PartnerError):
    """The interface URL resolves to an internal address: calling it would let
    whoever edits an interface probe the network passgate runs in."""

    code = "destination_refused"
    http_status = 400


def internal_kind(address: IPAddress) -> str | None:
    """Which kind of non-public address this is (None: a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "PARTNER_ALLOWED_NETWORKS", [])]


def check_address(address: IPAddress, host: str, field: str = "url") -> None:
    """Refuse an internal address unless listed; outside production loopback is
    allowed too (the sandboxes listen there), never link-local nor metadata."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # judged (and allow-listed) as the IPv4 address it is
    kind = internal_kind(address)
    if kind is None or any(address in network for network in allowed_networks()):
        return
    if kind == "loopback" and not getattr(settings, "PRODUCTION", False):
        return
    shown = str(address) if str(address) == host else f"{host} → {address}"
    raise DestinationRefused(
        f"the interface URL points at a {kind} address ({shown}); passgate does not call internal addresses",
        field=field, expected=DESTINATION_EXPECTED, found=f"{address} ({kind})")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def check_destination(url: str, field: str = "url") -> list[IPAddress]:
    """Resolve the URL's host and refuse it if any address is internal; returns
    the addresses (empty when the name does not resolve: the call then fails
    as unreachable, which is the right message)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError, ValueError):
        return []
    for address in addresses:
        check_address(address, host, field)
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """Opens each connection to an address checked just before, never to a
    name resolved again later (which a rebinding DNS server could re-point)."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"{host} cannot be resolved ({exc})") from None
        for address in addresses:
            check_address(address, host)
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("partner calls go over TCP only")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_transport() -> httpx.HTTPTransport | None:
    """An httpx transport whose connections go through GuardedBackend; None when
    an HTTP(S) proxy is configured (connections then go to the proxy, and the
    partner's host is checked per request instead)."""
    if {"http", "https", "all"} & set(urllib.request.getproxies()):
        return None
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        return None  # an httpx whose insides moved: fall back to the per-request check
    pool._network_backend = GuardedBackend(pool._network_backend)
    return transport


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5  # seconds; doubles each attempt
    backoff_max: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is not waited out: the call fails

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class PartnerClient:
    """Subclass it per partner (one module holds the whole wire format)."""

    partner = "partner"

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: Iterable[str] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        recorder: Recorder | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.recorder = recorder
        self.sleep = sleep
        self._secrets = [s for s in secrets if s and len(s) >= 3]
        if isinstance(auth, tuple):
            self._secrets += [s for s in auth[1:] if s and len(s) >= 3]
        if transport is None:
            transport = guarded_transport()
        # Without the guarded transport (a proxy, a caller's own transport), check per request.
        self._check_each_request = not isinstance(transport, httpx.HTTPTransport) or not isinstance(
            getattr(getattr(transport, "_pool", None), "_network_backend", None), GuardedBackend)
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers or {},
            auth=auth,
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout,
                                  pool=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    # -------------------------------------------------------------- plumbing
    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PartnerClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _record(self, method: str, path: str, status: int | None, started: float, attempt: int,
                error: str = "") -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        logger.info("%s %s %s → %s in %d ms (attempt %d)%s", self.partner, method, path,
                    status if status is not None else "no answer", duration_ms, attempt,
                    f": {error}" if error else "")
        if self.recorder is not None:
            self.recorder(method=method, path=path, status=status, duration_ms=duration_ms,
                          attempt=attempt, error=error[:300])

    # -------------------------------------------------------------- the call
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, Any] | None = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Iterable[int] = (),
    ) -> httpx.Response:
        """Send one call (retrying when safe). Returns a 2xx response or one whose
        status is in `accept`; raises PartnerError otherwise."""
        method = method.upper()
        safe = (method in IDEMPOTENT_METHODS) if idempotent is None else idempotent
        accepted = set(accept)
        shown_path = self.redact(path)
        if self._check_each_request:
            check_destination(str(self.client.build_request(method, path).url))
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            wait: float | None = None
            try:
                # `data` (a form) and `content` (bytes sent as they are) for partners that need them
                response = self.client.request(method, path, json=json, data=data, content=content, params=params,
                                               headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never reached the partner: safe to repeat whatever the method.
                error = self.redact(f"{type(exc).__name__}: {exc}")
                self._record(method, shown_path, None, started, attempt, error)
                if attempt >= self.retry.max_attempts:
                    raise PartnerError(f"{self.partner} cannot be reached ({error}) after {attempt} attempts",
                                       expected="a reachable partner URL", found=error,
                                       attempts=attempt) from None
            except httpx.TransportError as exc:
                # Timeouts after sending, dropped connections: the call may have been processed.
                error = self.redact(f"{type(exc).__name__}: {exc}")
                self._record(method, shown_path, None, started, attempt, error)
                if not safe:
                    raise PartnerError(
                        f"{self.partner} did not answer {method} {shown_path} ({error}); the call is not "
                        "repeated because it is not idempotent — check the partner before running again",
                        expected="an answer", found=error, attempts=attempt) from None
                if attempt >= self.retry.max_attempts:
                    raise PartnerError(f"{self.partner} did not answer {method} {shown_path} after {attempt} "
                                       f"attempts ({error})", expected="an answer", found=error,
                                       attempts=attempt) from None
            else:
                status = response.status_code
                self._record(method, shown_path, status, started, attempt)
                if 200 <= status < 300 or status in accepted:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After")) \
                    if status in (429, 503) else None
                retryable = status == 429 or (safe and status in RETRY_STATUSES)
                body = self.redact(response.text[:300]) if response.content else ""
                if not retryable or attempt >= self.retry.max_attempts:
                    raise self.error_for(method, shown_path, status, body, attempt)
                if retry_after is not None:
                    if retry_after > self.retry.max_retry_after:
                        raise PartnerError(
                            f"{self.partner} asks to wait {retry_after:.0f} s before {method} {shown_path}; "
                            f"more than the {self.retry.max_retry_after:.0f} s passgate waits",
                            status=status, expected=f"Retry-After ≤ {self.retry.max_retry_after:.0f} s",
                            found=f"Retry-After {retry_after:.0f} s", attempts=attempt)
                    wait = retry_after
            if wait is None:
                wait = self.retry.backoff(attempt)
            self.sleep(wait)

    def error_for(self, method: str, path: str, status: int, body: str, attempts: int) -> PartnerError:
        if status in (401, 403):
            message = f"{self.partner} refused the credentials (HTTP {status}) on {method} {path}"
            return PartnerError(message, status=status, field="secret", expected="valid credentials",
                                found=f"HTTP {status}", attempts=attempts)
        if status == 404:
            message = f"{self.partner} does not know {path} (HTTP 404): check the URL and the project"
        else:
            message = f"{self.partner} answered HTTP {status} to {method} {path}" + (
                f" after {attempts} attempts" if attempts > 1 else "")
        return PartnerError(message, status=status, expected="a 2xx answer",
                            found=f"HTTP {status}" + (f": {body}" if body else ""), attempts=attempts)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


# ---------------------------------------------------------------- interface URLs

def check_http_url(url: str, field: str = "url") -> tuple[str, Any]:
    """A stripped absolute http(s) URL without query or fragment, or InvalidInput."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", a port out of range…
        raise InvalidInput(f"this URL cannot be read ({exc})", field=field, expected="https://host/path",
                           found=url) from None
    if parts.scheme not in {"http", "https"} or not host or any(c.isspace() for c in url):
        raise InvalidInput("the URL must be absolute, starting with https:// (or http://)", field=field,
                           expected="https://host/path", found=url or "(empty)")
    if parts.query or parts.fragment:
        raise InvalidInput("the URL must not carry a query string or a fragment", field=field,
                           expected="https://host/path", found=url)
    if parts.username or parts.password:
        raise InvalidInput("put the user name and the password in their own fields, not in the URL",
                           field=field, expected="https://host/path", found=urlunsplit(
                               (parts.scheme, parts.hostname, parts.path, "", "")))
    return url.rstrip("/"), parts
