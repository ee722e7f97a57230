"""Everything that speaks FreeRADIUS's rlm_rest dialect, and nothing else: read the request's
attributes, call guest.services, answer with the status codes rlm_rest maps.

- Request body (`body = 'json'`, no `data`): {"User-Name": {"type": "string", "value": ["bob"]}, …}.
- Caller: FreeRADIUS, from an address of settings.GUEST_RADIUS_FROM, with an API token of the
  organisation in `X-Passgate-Token`; the NAS is `X-Passgate-Nas` (FreeRADIUS sets it from
  %{Packet-Src-IP-Address}) or else NAS-IP-Address, and must be a NAS client of that organisation.
- authorize: 200 with control:Cleartext-Password and the reply items; 401 reject with a
  Reply-Message; 404 unknown user; 403 refused caller.
- post-auth (called only after a first login, which authorize flags in control:Tmp-String-9),
  accounting: 204 ok; 403 refused caller (rlm_rest: invalid, so nothing is recorded).
- The handlers take a Call (address, headers, body) and return (status, JSON body): Django views
  wrap them for the test client, and radius_wsgi serves them in production without Django's
  request cycle (sessions, CSRF, auth middleware: nothing rlm_rest needs).
- Every value goes back as {"op": ":=", "value": "…", "do_xlat": false}: guest-typed text
  (a username with %{…}) is never expanded by FreeRADIUS.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from passgate.errors import NotFound

from . import services
from .counters import Refusal
from .models import NasClient

UINT32 = 2**32
TOKEN_HEADER = "X-Passgate-Token"
NAS_HEADER = "X-Passgate-Nas"
# authorize marks a ticket's first login in this control attribute; the virtual server calls
# post-auth only when it is set (deploy/freeradius/sites-enabled/passgate)
FIRST_LOGIN_ATTRIBUTE = "control:Tmp-String-9"
FIRST_LOGIN = "passgate-first-login"
# Acct-Status-Type by number, should a NAS dictionary send it so
STATUS_TYPES = {"1": "Start", "2": "Stop", "3": "Interim-Update", "7": "Accounting-On", "8": "Accounting-Off"}


def item(value: Any) -> dict[str, Any]:
    return {"op": ":=", "value": str(value), "do_xlat": False}


def reply_message(text: str) -> dict[str, Any]:
    return {"reply:Reply-Message": item(text)}


def value(attributes: dict[str, Any], name: str) -> str:
    """The first value of an attribute as text ('' when absent), whatever shape rlm_rest used."""
    entry = attributes.get(name)
    if isinstance(entry, dict):
        entry = entry.get("value")
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    return "" if entry is None else str(entry)


def integer(attributes: dict[str, Any], name: str) -> int:
    try:
        return max(int(value(attributes, name) or 0), 0)
    except ValueError:
        return 0


class Refused(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        self.message, self.status = message, status


def _from_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(net is not None and ip.version == net.version and ip in net
               for net in map(services.network, settings.GUEST_RADIUS_FROM))


@dataclass(frozen=True)
class Call:
    """One rlm_rest call, whatever served it (Django's view, or the WSGI fast path)."""

    remote_addr: str
    token: str
    nas_address: str  # X-Passgate-Nas: FreeRADIUS's %{Packet-Src-IP-Address}
    body: bytes


def caller(call: Call) -> tuple[NasClient, dict[str, Any]]:
    """The NAS client this call speaks for, and the request's attributes; or Refused."""
    if not _from_allowed(call.remote_addr):
        raise Refused("RADIUS calls are only accepted from the configured FreeRADIUS servers")
    try:
        attributes = json.loads(call.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise Refused("the body is not JSON", 400) from None
    if not isinstance(attributes, dict):
        raise Refused("the body is not a JSON object of attributes", 400)
    address = call.nas_address or value(attributes, "NAS-IP-Address")
    nas = services.match_nas(services.radius_nas_clients(call.token), address)
    if nas is None:
        raise Refused("this access point is not a configured NAS client (or the token is wrong)")
    return nas, attributes


def accept_body(accept: services.Accept) -> dict[str, Any]:
    body: dict[str, Any] = {"control:Cleartext-Password": item(accept.password),
                            "reply:Reply-Message": item(accept.message)}
    if accept.first_login:
        # tells the virtual server to call post-auth, which starts the ticket; other logins skip it
        body[FIRST_LOGIN_ATTRIBUTE] = item(FIRST_LOGIN)
    if accept.session_timeout is not None:
        body["reply:Session-Timeout"] = item(min(accept.session_timeout, UINT32 - 1))
    if accept.idle_timeout:
        body["reply:Idle-Timeout"] = item(accept.idle_timeout)
    if accept.bandwidth_up:
        body["reply:WISPr-Bandwidth-Max-Up"] = item(min(accept.bandwidth_up, UINT32 - 1))
    if accept.bandwidth_down:
        body["reply:WISPr-Bandwidth-Max-Down"] = item(min(accept.bandwidth_down, UINT32 - 1))
    if accept.bytes_left is not None:
        # a 32-bit attribute: what passes 4 GiB goes in the gigawords companion
        body["reply:ChilliSpot-Max-Total-Octets"] = item(accept.bytes_left % UINT32)
        if accept.bytes_left >= UINT32:
            body["reply:ChilliSpot-Max-Total-Gigawords"] = item(accept.bytes_left // UINT32)
    return body


Answer = tuple[int, dict[str, Any] | None]


def authorize(call: Call) -> Answer:
    try:
        nas, attributes = caller(call)
    except Refused as exc:
        return exc.status, reply_message(exc.message)
    try:
        accept = services.authorize(nas, value(attributes, "User-Name"), value(attributes, "Calling-Station-Id"))
    except Refusal as refusal:
        return 401, reply_message(refusal.message)
    except NotFound:
        return 404, reply_message("Unknown username or password.")
    return 200, accept_body(accept)


def post_auth(call: Call) -> Answer:
    try:
        nas, attributes = caller(call)
    except Refused as exc:
        return exc.status, reply_message(exc.message)
    services.mark_first_login(nas.organisation_id, value(attributes, "User-Name"))
    return 204, None


def accounting_record(attributes: dict[str, Any]) -> services.AccountingRecord:
    kind = value(attributes, "Acct-Status-Type")
    return services.AccountingRecord(
        status_type=STATUS_TYPES.get(kind, kind),
        unique_id=value(attributes, "Acct-Unique-Session-Id"),
        username=value(attributes, "User-Name"),
        acct_session_id=value(attributes, "Acct-Session-Id"),
        nas_ip=value(attributes, "NAS-IP-Address") or None,
        calling_station=value(attributes, "Calling-Station-Id"),
        framed_ip=value(attributes, "Framed-IP-Address") or None,
        session_time=integer(attributes, "Acct-Session-Time"),
        input_octets=integer(attributes, "Acct-Input-Gigawords") * UINT32 + integer(attributes, "Acct-Input-Octets"),
        output_octets=integer(attributes, "Acct-Output-Gigawords") * UINT32
        + integer(attributes, "Acct-Output-Octets"),
        interim_interval=integer(attributes, "Acct-Interim-Interval") or None,
        terminate_cause=value(attributes, "Acct-Terminate-Cause"),
    )


def accounting(call: Call) -> Answer:
    try:
        nas, attributes = caller(call)
    except Refused as exc:
        return exc.status, reply_message(exc.message)
    services.account(nas, accounting_record(attributes))
    return 204, None


ENDPOINTS: dict[str, Callable[[Call], Answer]] = {
    "/radius/authorize": authorize, "/radius/post-auth": post_auth, "/radius/accounting": accounting}


def encode(answer: Answer) -> tuple[int, bytes]:
    status, data = answer
    return status, b"" if data is None else json.dumps(data).encode()


# Django views: the same handlers for the test client and any server that does not use the fast
# path (passgate.guest.radius_wsgi serves them in production without Django's request cycle).

def _view(handler: Callable[[Call], Answer]):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        status, body = encode(handler(Call(remote_addr=request.META.get("REMOTE_ADDR", ""),
                                           token=request.headers.get(TOKEN_HEADER, ""),
                                           nas_address=request.headers.get(NAS_HEADER, ""), body=request.body)))
        if not body:
            return HttpResponse(status=status)
        return HttpResponse(body, status=status, content_type="application/json")

    view.__name__ = handler.__name__
    return view


authorize_view = _view(authorize)
post_auth_view = _view(post_auth)
accounting_view = _view(accounting)
