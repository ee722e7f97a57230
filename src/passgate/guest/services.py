"""Guest WiFi services: places, access methods, issuing, cancelling, and the RADIUS rules
(authorize, post-auth, accounting, stale sessions, expiry, cutting sessions). The admin, the API,
the CLI, the RADIUS endpoints and the maintenance functions all call these."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import secrets
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from passgate.errors import Conflict, InvalidInput, NotFound
from passgate.jobs.secrets import decrypt_cached, encrypt
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, hash_token, record_audit, snapshot, validate_time_zone

from . import rules
from .counters import Refusal, TicketFacts
from .models import (
    AccessMethod,
    CountedFrom,
    CutReason,
    Disconnect,
    DisconnectResult,
    Format,
    GuestStatus,
    GuestTicket,
    IssueBatch,
    Location,
    NasClient,
    RadiusSession,
    RequestKind,
    TicketType,
)
from .tasks import send_disconnects_after_commit

# No 0/O, 1/l/I: credentials are read off paper and typed on phones.
CREDENTIAL_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
USERNAME_LENGTH = 8
PASSWORD_LENGTH = 8
SERIAL_LENGTH = 10
DEFAULT_INTERIM = 300
STALE_FACTOR = 3
MAX_DISCONNECT_ATTEMPTS = 5
# A quota "runs low" when what is left falls to LOW_QUOTA_PERCENT % of it or below: the ticket's open
# sessions then get one CoA-Request with their new limits (once per ticket: usage only grows).
LOW_QUOTA_PERCENT = 10
UINT32 = 2**32
MAX_COUNT = 100_000
EXTRA_TYPES = {"text", "email", "phone", "number", "date"}
# Ticket types issued by hand for each method format; automatic channels (API, PAYPAL, SMS,
# SPONSOR, PMS) may issue any method.
FORMAT_OF_TYPE = {TicketType.INDIVIDUAL: Format.SINGLE, TicketType.VARIABLE: Format.VARIABLE,
                  TicketType.SPECIAL: Format.SPECIAL}
TYPE_OF_FORMAT = {v: k for k, v in FORMAT_OF_TYPE.items()}


def _random_many(alphabet: str, length: int, count: int) -> list[str]:
    """`count` random strings from the OS's CSPRNG; bytes past the last multiple of the alphabet's
    size are dropped so every character is equally likely (and it is ~20× faster than choice())."""
    size = len(alphabet)
    limit = 256 - 256 % size
    needed = length * count
    chars: list[str] = []
    while len(chars) < needed:
        chars.extend(alphabet[b % size] for b in secrets.token_bytes(needed - len(chars) + 64) if b < limit)
    joined = "".join(chars[:needed])
    return [joined[i * length:(i + 1) * length] for i in range(count)]


# ---------------------------------------------------------------- places

def create_location(actor: Actor, **fields: Any) -> Location:
    actor.require(Permission.MANAGE_ACCESS)
    location = Location(organisation=actor.organisation, **fields)
    validate_location(location)
    with transaction.atomic():
        location.save()
        record_audit(actor, "create", location, None, snapshot(location))
    return location


def validate_location(location: Location) -> None:
    validate_time_zone(location.time_zone)
    if not location.ssid.strip():
        raise InvalidInput("a location needs its network name", field="ssid", expected="an SSID", found="")
    if location.qr_style == "PORTAL" and not location.portal_url:
        raise InvalidInput("the portal QR style needs the captive portal's URL", field="portal_url",
                           expected="https://portal.example/login", found="")
    if location.qr_style == "WIFI_PSK" and not location.wifi_password:
        raise InvalidInput("the WIFI: QR style needs the network's pre-shared key", field="wifi_password",
                           expected="the WPA passphrase", found="")
    validate_portal_settings(location)


def validate_portal_settings(location: Location) -> None:
    """The captive portal's settings of a location: languages passgate speaks, known countries,
    an SMS method of this very location, a controller URL template that can be filled."""
    import phonenumbers
    from django.conf import settings
    from django.contrib.staticfiles import finders

    from .portal.services import TEMPLATE_FIELDS, template_problem

    known = dict(settings.LANGUAGES)
    languages = location.language_list()
    if not languages:
        raise InvalidInput("the portal needs at least one language", field="languages",
                           expected=", ".join(known), found=location.languages)
    for code in languages:
        if code not in known:
            raise InvalidInput("the portal does not speak this language", field="languages",
                               expected=f"comma-separated codes among {', '.join(known)}", found=code)
    for code in location.sms_country_list():
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInput("unknown country code", field="sms_countries",
                               expected="ISO 3166 codes such as FR,BE,CH", found=code)
    method = location.sms_method
    if method is not None:
        if location.pk is None or method.location_id != location.pk:
            raise InvalidInput("the SMS method must be an access method of this location", field="sms_method",
                               expected=f"a method of {location.code}", found=f"{method.code} ({method.location})")
        if method.format not in (Format.SINGLE, Format.VARIABLE):
            raise InvalidInput("a Special method cannot be requested by SMS", field="sms_method",
                               expected="a Single or Variable method", found=f"{method.code} ({method.format})")
    if location.sms_per_number_per_day < 1:
        raise InvalidInput("at least one SMS per number per day", field="sms_per_number_per_day",
                           expected="a number ≥ 1", found=location.sms_per_number_per_day)
    problem = template_problem(location.controller_login_url)
    if problem:
        raise InvalidInput(f"the controller login URL cannot be used: {problem}", field="controller_login_url",
                           expected="placeholders among " + ", ".join("{" + n + "}" for n in TEMPLATE_FIELDS),
                           found=location.controller_login_url)
    if location.logo and not finders.find(location.logo):
        raise InvalidInput("no such static file", field="logo", expected="e.g. guest/portal/logo.svg",
                           found=location.logo)


def update_location(actor: Actor, location: Location, **fields: Any) -> Location:
    actor.require(Permission.MANAGE_ACCESS)
    if location.organisation_id != actor.organisation.pk:
        raise NotFound("no such location in this organisation", field="location", found=location.pk)
    before = snapshot(location)
    for name, value in fields.items():
        setattr(location, name, value)
    validate_location(location)
    with transaction.atomic():
        location.save()
        record_audit(actor, "update", location, before, snapshot(location))
    return location


def parse_network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise InvalidInput("not an IP address or network", field="network",
                           expected="an address (10.0.0.5) or a network (10.0.0.0/24)", found=value) from None


def create_nas_client(actor: Actor, location: Location, *, name: str, network: str, secret: str,
                      nas_identifier: str = "", coa_port: int = 3799) -> NasClient:
    actor.require(Permission.MANAGE_ACCESS)
    if location.organisation_id != actor.organisation.pk:
        raise NotFound("no such location in this organisation", field="location", found=location.pk)
    if not secret:
        raise InvalidInput("a NAS client needs its RADIUS shared secret", field="secret",
                           expected="the shared secret configured on the controller", found="")
    if not 1 <= coa_port <= 65535:
        raise InvalidInput("not a UDP port", field="coa_port", expected="1–65535", found=coa_port)
    nas = NasClient(organisation=actor.organisation, location=location, name=name, network=parse_network(network),
                    nas_identifier=nas_identifier, coa_port=coa_port, secret_encrypted=encrypt(secret))
    try:
        with transaction.atomic():
            nas.save()
            record_audit(actor, "create", nas, None, snapshot(nas))
    except IntegrityError:
        raise Conflict("another NAS client already has this network", field="network", found=nas.network) from None
    return nas


def set_nas_secret(actor: Actor, nas: NasClient, secret: str) -> None:
    """A blank secret leaves the stored one as it is (a form that does not echo it cannot wipe it)."""
    actor.require(Permission.MANAGE_ACCESS)
    if secret:
        nas.secret_encrypted = encrypt(secret)
        nas.save(update_fields=["secret_encrypted"])
        record_audit(actor, "set_secret", nas, None, {"secret": "(changed)"})


def nas_secret(nas: NasClient) -> str:
    return decrypt_cached(nas.secret_encrypted)


# ---------------------------------------------------------------- access methods

def validate_method(method: AccessMethod) -> None:
    if method.format not in Format.values:
        raise InvalidInput("unknown format", field="format", expected=", ".join(Format.values), found=method.format)
    if method.devices < 1:
        raise InvalidInput("at least one device", field="devices", expected="a number ≥ 1", found=method.devices)
    if method.format == Format.SINGLE and (method.duration is None or method.duration <= dt.timedelta(0)):
        raise InvalidInput("a Single method needs its duration", field="duration", expected="e.g. 1 day",
                           found=method.duration)
    if method.format == Format.VARIABLE and not 1 <= method.min_days <= method.max_days:
        raise InvalidInput("the day bounds are inverted", field="max_days",
                           expected=f"at least min_days ({method.min_days})", found=method.max_days)
    if method.price < 0:
        raise InvalidInput("a price cannot be negative", field="price", expected="≥ 0", found=method.price)
    validate_extra_fields(method.extra_fields)


def validate_extra_fields(spec: Any) -> None:
    if not isinstance(spec, list):
        raise InvalidInput("extra fields are a list", field="extra_fields",
                           expected='[{"name": "room", "label": "Room", "type": "text", "required": true}]',
                           found=type(spec).__name__)
    names = set()
    for i, item in enumerate(spec):
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise InvalidInput("each extra field needs a name", field=f"extra_fields[{i}]",
                               expected='{"name", "label", "type", "required"}', found=item)
        if item.get("type", "text") not in EXTRA_TYPES:
            raise InvalidInput("unknown extra field type", field=f"extra_fields[{i}].type",
                               expected=", ".join(sorted(EXTRA_TYPES)), found=item.get("type"))
        if item["name"] in names:
            raise InvalidInput("two extra fields have the same name", field=f"extra_fields[{i}].name",
                               expected="distinct names", found=item["name"])
        names.add(item["name"])


def create_method(actor: Actor, location: Location, **fields: Any) -> AccessMethod:
    actor.require(Permission.MANAGE_ACCESS)
    if location.organisation_id != actor.organisation.pk:
        raise NotFound("no such location in this organisation", field="location", found=location.pk)
    fields.setdefault("currency", actor.organisation.currency)
    method = AccessMethod(organisation=actor.organisation, location=location, **fields)
    validate_method(method)
    with transaction.atomic():
        method.save()
        record_audit(actor, "create", method, None, snapshot(method))
    return method


def clean_extra(method: AccessMethod, values: dict[str, Any] | None) -> dict[str, str]:
    """The values of the method's extra fields: required ones present, unknown ones refused."""
    from .delivery import normalise_phone  # phone numbers are normalised the way SMS sends them

    values = dict(values or {})
    known = {f["name"]: f for f in method.extra_fields}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidInput("this access method does not ask for these fields", field=f"extra.{unknown[0]}",
                           expected=", ".join(known) or "no extra fields", found=", ".join(unknown))
    out: dict[str, str] = {}
    for name, spec in known.items():
        raw = values.get(name)
        text = "" if raw is None else str(raw).strip()
        if not text:
            if spec.get("required"):
                raise InvalidInput(f"{spec.get('label') or name} is required", field=f"extra.{name}",
                                   expected=f"a {spec.get('type', 'text')}", found="nothing")
            continue
        kind = spec.get("type", "text")
        if kind == "email" and ("@" not in text or " " in text):
            raise InvalidInput("not an e-mail address", field=f"extra.{name}", expected="name@example.org",
                               found=text)
        if kind == "number":
            try:
                Decimal(text)
            except ArithmeticError:
                raise InvalidInput("not a number", field=f"extra.{name}", expected="a number", found=text) from None
        if kind == "date":
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                raise InvalidInput("not a date", field=f"extra.{name}", expected="YYYY-MM-DD", found=text) from None
        if kind == "phone":
            text = normalise_phone(text, field=f"extra.{name}")
        out[name] = text[:500]
    return out


# ---------------------------------------------------------------- issuing

@dataclass
class Issued:
    batch: IssueBatch
    tickets: list[GuestTicket]
    created: bool = True


@dataclass
class IssueRequest:
    """What an issuing channel asks for; every channel (admin, API, CLI, later PayPal, SMS,
    sponsor, PMS) fills one of these and calls issue_tickets."""

    method: AccessMethod
    count: int = 1
    type: str | None = None
    user_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    valid_from: dt.date | dt.datetime | None = None
    valid_until: dt.date | dt.datetime | None = None
    username: str | None = None
    password: str | None = None
    devices: int | None = None
    quota_bytes: int | None = None
    client_reference: str | None = None
    # hotel stays (PMS)
    room_number: str = ""
    pms_reservation: str = ""
    last_name: str = ""


def _local_midnight(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(zone))


def _aware(value: dt.date | dt.datetime, zone: str, field_name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    if isinstance(value, dt.date):
        return _local_midnight(value, zone)
    raise InvalidInput("not a date", field=field_name, expected="YYYY-MM-DD", found=value)


def _validity(req: IssueRequest, method: AccessMethod, now: dt.datetime) -> dict[str, Any]:
    """valid_from, expires_at, duration and price of a ticket of this method."""
    zone = method.location.time_zone
    if method.format == Format.SINGLE:
        if method.counted_from == CountedFrom.ISSUE:
            return {"valid_from": None, "expires_at": now + method.duration, "duration": method.duration,
                    "price": method.price}
        return {"valid_from": None, "expires_at": None, "duration": method.duration, "price": method.price}
    if req.valid_from is None or req.valid_until is None:
        raise InvalidInput("this access method needs the validity's first and last day",
                           field="valid_from" if req.valid_from is None else "valid_until",
                           expected="YYYY-MM-DD", found="nothing")
    if method.format == Format.VARIABLE:
        first = req.valid_from.date() if isinstance(req.valid_from, dt.datetime) else req.valid_from
        last = req.valid_until.date() if isinstance(req.valid_until, dt.datetime) else req.valid_until
        days = (last - first).days + 1
        if not method.min_days <= days <= method.max_days:
            raise InvalidInput("the validity is outside the method's bounds", field="valid_until",
                               expected=f"between {method.min_days} and {method.max_days} days",
                               found=f"{days} day(s) ({first} to {last})")
        if _local_midnight(last + dt.timedelta(days=1), zone) <= now:
            raise InvalidInput("the validity is already over", field="valid_until", expected="a day to come",
                               found=str(last))
        # from midnight of the first day to midnight after the last, in the location's zone
        return {"valid_from": _local_midnight(first, zone),
                "expires_at": _local_midnight(last + dt.timedelta(days=1), zone), "duration": None,
                "price": method.price * days}
    start, end = _aware(req.valid_from, zone, "valid_from"), _aware(req.valid_until, zone, "valid_until")
    if isinstance(req.valid_until, dt.date) and not isinstance(req.valid_until, dt.datetime):
        end += dt.timedelta(days=1)  # a last day given as a date includes that day
    if end <= start:
        raise InvalidInput("the validity ends before it starts", field="valid_until",
                           expected=f"after {start.isoformat()}", found=end.isoformat())
    return {"valid_from": start, "expires_at": end, "duration": None, "price": method.price}


def _fresh(org: Organisation, field_name: str, alphabet: str, length: int, count: int) -> list[str]:
    """`count` random values not used by the organisation's tickets (checked in chunks)."""
    out: set[str] = set()
    while len(out) < count:
        wanted = set(_random_many(alphabet, length, count - len(out))) - out
        taken: set[str] = set()
        wanted_list = list(wanted)
        for i in range(0, len(wanted_list), 900):
            taken |= set(GuestTicket.objects.filter(organisation=org, **{f"{field_name}__in": wanted_list[i:i + 900]})
                         .values_list(field_name, flat=True))
        out |= wanted - taken
    return list(out)


def _check_credential(value: str, field_name: str) -> str:
    if not value or len(value) > 64 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput("credentials are 1 to 64 printable characters", field=field_name,
                           expected="1–64 printable characters", found=value)
    return value


def issue_tickets(actor: Actor, req: IssueRequest, *, now: dt.datetime | None = None,
                  progress: Callable[[int], None] | None = None) -> Issued:
    """Issue `req.count` tickets of one access method, in one transaction, with bulk inserts.
    With a client reference, a repeated request returns the tickets of the first one."""
    actor.require(Permission.SELL)
    method = req.method
    org = actor.organisation
    if method.organisation_id != org.pk:
        raise NotFound("no such access method in this organisation", field="method", found=method.pk)
    if not method.active:
        raise Conflict("this access method is switched off", field="method", found=method.code)
    ticket_type = req.type or TYPE_OF_FORMAT[method.format]
    if ticket_type not in TicketType.values:
        raise InvalidInput("unknown ticket type", field="type", expected=", ".join(TicketType.values),
                           found=ticket_type)
    wanted_format = FORMAT_OF_TYPE.get(ticket_type)
    if wanted_format and method.format != wanted_format:
        raise InvalidInput(f"a {ticket_type} ticket needs a {wanted_format} access method", field="method",
                           expected=f"a method of format {wanted_format}", found=f"{method.code} ({method.format})")
    if not 1 <= req.count <= MAX_COUNT:
        raise InvalidInput("too many or too few tickets", field="count", expected=f"1–{MAX_COUNT}", found=req.count)
    if req.client_reference:
        existing = IssueBatch.objects.filter(organisation=org, client_reference=req.client_reference).first()
        if existing is not None:
            return _replay(existing, req)
    custom = req.username is not None or req.password is not None
    if custom:
        if method.format != Format.SPECIAL:
            raise InvalidInput("only a Special method takes the operator's own credentials", field="username",
                               expected="no username/password, or a Special method", found=method.format)
        if req.count != 1:
            raise InvalidInput("own credentials make one ticket", field="count", expected=1, found=req.count)
        _check_credential(req.username or "", "username")
        _check_credential(req.password or "", "password")
        if GuestTicket.objects.filter(organisation=org, username=req.username).exists():
            raise Conflict("another ticket already has this username", field="username", found=req.username)
    if req.devices is not None and (method.format != Format.SPECIAL or req.devices < 1):
        raise InvalidInput("the number of devices is set by the access method (Special methods may change it)",
                           field="devices", expected="a Special method and a number ≥ 1", found=req.devices)
    if req.quota_bytes is not None and (method.format != Format.SPECIAL or req.quota_bytes < 1):
        raise InvalidInput("the data quota is set by the access method (Special methods may change it)",
                           field="quota_bytes", expected="a Special method and a number ≥ 1", found=req.quota_bytes)
    user_id = (req.user_id or "").strip()
    if len(user_id) > 254:
        raise InvalidInput("the user ID is too long", field="user_id", expected="≤ 254 characters",
                           found=f"{len(user_id)} characters")
    now = now or timezone.now()
    extra = clean_extra(method, req.extra)
    validity = _validity(req, method, now)
    try:
        with transaction.atomic():
            batch = IssueBatch.objects.create(organisation=org, client_reference=req.client_reference or None,
                                              method=method, type=ticket_type, count=req.count,
                                              issued_by=actor.label)
            serials = _fresh(org, "serial", SERIAL_ALPHABET, SERIAL_LENGTH, req.count)
            if custom:
                usernames, passwords = [req.username], [req.password]
            else:
                usernames = _fresh(org, "username", CREDENTIAL_ALPHABET, USERNAME_LENGTH, req.count)
                passwords = _random_many(CREDENTIAL_ALPHABET, PASSWORD_LENGTH, req.count)
            common = dict(organisation=org, batch=batch, method=method, location_id=method.location_id,
                          type=ticket_type, user_id=user_id, created_at=now,
                          devices=req.devices or method.devices,
                          quota_bytes=req.quota_bytes or method.quota_bytes, bandwidth_up=method.bandwidth_up,
                          bandwidth_down=method.bandwidth_down, idle_timeout=method.idle_timeout,
                          currency=method.currency, extra=extra, room_number=req.room_number,
                          pms_reservation=req.pms_reservation, last_name=req.last_name, **validity)
            tickets = []
            for i in range(0, req.count, 2000):
                chunk = [GuestTicket(serial=serials[j], username=usernames[j], password=passwords[j], **common)
                         for j in range(i, min(i + 2000, req.count))]
                GuestTicket.objects.bulk_create(chunk)
                tickets.extend(chunk)
                if progress:
                    progress(len(chunk))
            record_audit(actor, "issue", batch, None,
                         {"method": method.code, "type": ticket_type, "count": req.count,
                          "first_serial": tickets[0].serial})
    except IntegrityError:
        if req.client_reference:  # the same request, sent twice at once: the other one won
            existing = IssueBatch.objects.filter(organisation=org, client_reference=req.client_reference).first()
            if existing is not None:
                return _replay(existing, req)
        raise Conflict("a serial number or username was taken meanwhile; issue again", field="username") from None
    if tickets and tickets[0].pk is None:  # SQLite before 3.35 gives no ids back from bulk_create
        tickets = list(GuestTicket.objects.filter(batch=batch).order_by("pk"))
    return Issued(batch=batch, tickets=tickets)


def _replay(batch: IssueBatch, req: IssueRequest) -> Issued:
    """The first request's tickets, if this one asks for the same thing; otherwise a Conflict
    naming the first difference (a reused reference is a client's bug, not a retry)."""
    tickets = list(batch.tickets.order_by("pk"))
    first = tickets[0] if tickets else None
    wanted_type = req.type or TYPE_OF_FORMAT[req.method.format]
    differences = [("method", batch.method.code, req.method.code), ("count", batch.count, req.count),
                   ("type", batch.type, wanted_type)]
    if first is not None:
        differences.append(("user_id", first.user_id, (req.user_id or "").strip()))
        if first.extra_purged_at is None:  # purged values can no longer be compared
            try:
                extra = clean_extra(req.method, req.extra)
            except InvalidInput:
                extra = req.extra
            differences.append(("extra", first.extra, extra))
    for name, before, now in differences:
        if before != now:
            raise Conflict(f"this client reference was used for another request: its {name} differs",
                           field="client_reference", expected=f"{name} {before!r} as in the first request",
                           found=f"{name} {now!r}")
    return Issued(batch=batch, tickets=tickets, created=False)


# ---------------------------------------------------------------- cancelling, expiring, cutting

def cut_sessions(sessions: Iterable[RadiusSession], reason: str, now: dt.datetime) -> list[Disconnect]:
    """A pending Disconnect-Request for each open session (one per session; asking twice changes
    nothing). The sender (sessions_to_cut) carries them to the NAS."""
    made = []
    for session in sessions:
        if session.stopped_at is not None:
            continue
        attributes = _identity(session)
        if Disconnect.objects.filter(session=session, kind=RequestKind.DISCONNECT,
                                     result=DisconnectResult.PENDING).exists():
            continue
        made.append(Disconnect.objects.create(organisation_id=session.organisation_id, session=session,
                                              nas_id=session.nas_id, reason=reason, attributes=attributes,
                                              requested_at=now))
    for organisation_id in {d.organisation_id for d in made}:
        send_disconnects_after_commit(organisation_id)
    return made


def _identity(session: RadiusSession) -> dict[str, Any]:
    """The attributes that name a session to its NAS (RFC 5176 §3)."""
    attributes: dict[str, Any] = {"User-Name": session.username, "Acct-Session-Id": session.acct_session_id}
    if session.nas_ip:
        attributes["NAS-IP-Address"] = session.nas_ip
    if session.calling_station:
        attributes["Calling-Station-Id"] = session.calling_station
    return attributes


def coa_limits(session: RadiusSession, seconds_left: int | None, bytes_left: int) -> dict[str, int]:
    """The new limits of one open session, as its NAS counts them: a hotspot (coova-chilli and its
    kin) compares Session-Timeout and ChilliSpot-Max-Total-Octets with what *this session* has
    used since it started, so each is the session's own use so far plus what the ticket has left.
    Octets past 4 GiB go in ChilliSpot-Max-Total-Gigawords, as in the authorize reply."""
    limits: dict[str, int] = {}
    if seconds_left is not None:
        limits["Session-Timeout"] = min(session.session_time + max(seconds_left, 0), UINT32 - 1)
    total = session.input_octets + session.output_octets + max(bytes_left, 0)
    limits["ChilliSpot-Max-Total-Octets"] = total % UINT32
    if total >= UINT32:
        limits["ChilliSpot-Max-Total-Gigawords"] = total // UINT32
    return limits


def quota_runs_low(quota_bytes: int, used: int) -> bool:
    """Little data left (LOW_QUOTA_PERCENT % of the quota or less), but not none: none is a Disconnect."""
    left = quota_bytes - used
    return 0 < left and left * 100 <= quota_bytes * LOW_QUOTA_PERCENT


def change_limits(ticket_id: int, bytes_left: int, now: dt.datetime) -> list[Disconnect]:
    """A pending CoA-Request with what is left for each open session of a ticket whose quota runs
    low, once per ticket (a ticket that already had one gets none: the threshold is crossed once,
    and sessions opened since were told the bytes left by their Access-Accept)."""
    if Disconnect.objects.filter(session__ticket_id=ticket_id, kind=RequestKind.COA).exists():
        return []
    ticket = GuestTicket.objects.only("expires_at").get(pk=ticket_id)
    seconds_left = int((ticket.expires_at - now).total_seconds()) if ticket.expires_at else None
    made = []
    for session in _open_sessions([ticket_id]):
        attributes = {**_identity(session), **coa_limits(session, seconds_left, bytes_left)}
        made.append(Disconnect.objects.create(organisation_id=session.organisation_id, session=session,
                                              nas_id=session.nas_id, kind=RequestKind.COA,
                                              reason=CutReason.QUOTA_LOW, attributes=attributes,
                                              requested_at=now))
    for organisation_id in {d.organisation_id for d in made}:
        send_disconnects_after_commit(organisation_id)
    return made


def hotel_ticket(location: Location, room_number: str, last_name: str) -> GuestTicket | None:
    """The live hotel-stay (PMS) ticket of this room whose guest has this last name, compared
    without case, accents or surrounding spaces — how a guest types it on a phone."""
    wanted = fold_name(last_name)
    if not wanted or not room_number.strip():
        return None
    for ticket in GuestTicket.objects.filter(location=location, room_number=room_number.strip(),
                                             type=TicketType.PMS,
                                             status__in=[GuestStatus.NO_USE, GuestStatus.IN_USE]).order_by("-pk"):
        if fold_name(ticket.last_name) == wanted:
            return ticket
    return None


def fold_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _open_sessions(ticket_ids) -> models.QuerySet[RadiusSession]:
    return RadiusSession.objects.filter(ticket_id__in=ticket_ids, stopped_at__isnull=True)


def cancel_ticket(actor: Actor, ticket: GuestTicket, *, now: dt.datetime | None = None) -> list[Disconnect]:
    """CANCELLED, and a Disconnect-Request owed for each of its open sessions (returned)."""
    actor.require(Permission.SELL)
    if ticket.organisation_id != actor.organisation.pk:
        raise NotFound("no such ticket in this organisation", field="serial", found=ticket.serial)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = GuestTicket.objects.select_for_update().get(pk=ticket.pk)
        new = rules.next_status(ticket.status, "CANCEL")
        if new is None:
            raise Conflict(f"a ticket {ticket.status} cannot be cancelled", field="status",
                           expected="NO_USE or IN_USE", found=ticket.status)
        before = snapshot(ticket)
        ticket.status, ticket.cancelled_at = new, now
        ticket.save(update_fields=["status", "cancelled_at"])
        cuts = cut_sessions(_open_sessions([ticket.pk]), CutReason.CANCELLED, now)
        record_audit(actor, "cancel", ticket, before, snapshot(ticket))
    return cuts


def expire_tickets(organisation: Organisation, now: dt.datetime | None = None) -> tuple[int, int]:
    """Tickets past their expiry become EXPIRED and their open sessions are cut.
    Returns (tickets expired, disconnects owed)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(GuestTicket.objects.select_for_update()
                   .filter(organisation=organisation, status__in=[GuestStatus.NO_USE, GuestStatus.IN_USE],
                           expires_at__lte=now).values_list("pk", flat=True))
        GuestTicket.objects.filter(pk__in=due).update(status=GuestStatus.EXPIRED)
        cuts = cut_sessions(_open_sessions(due), CutReason.EXPIRED, now)
    return len(due), len(cuts)


def close_stale_sessions(organisation: Organisation, now: dt.datetime | None = None) -> int:
    """Sessions with no accounting for 3× their interim interval end at their last update:
    they stop holding a device slot (a controller that rebooted without Accounting-On)."""
    now = now or timezone.now()
    return (RadiusSession.objects.filter(organisation=organisation, stopped_at__isnull=True, stale_after__lte=now)
            .update(stopped_at=F("updated_at"), terminate_cause="Stale"))


def purge_extra_fields(organisation: Organisation, now: dt.datetime | None = None) -> int:
    """Erase the extra fields' values of tickets older than their method's retention."""
    now = now or timezone.now()
    purged = 0
    for method_id, days in AccessMethod.objects.filter(organisation=organisation).values_list(
            "pk", "extra_retention_days"):
        purged += (GuestTicket.objects.filter(organisation=organisation, method_id=method_id,
                                              created_at__lt=now - dt.timedelta(days=days),
                                              extra_purged_at__isnull=True)
                   .update(extra={}, extra_purged_at=now))
    return purged


@dataclass(frozen=True)
class DisconnectOrder:
    """What the RFC 5176 sender needs for one Disconnect-Request or CoA-Request."""

    disconnect_id: int
    nas_host: str
    port: int
    secret: str
    attributes: dict[str, Any]
    attempts: int
    kind: str = RequestKind.DISCONNECT


def sessions_to_cut(organisation: Organisation | None = None) -> list[DisconnectOrder]:
    """Pending Disconnect-Requests and CoA-Requests with their NAS address, port, shared secret and
    the session's identifying attributes (User-Name, Acct-Session-Id, NAS-IP-Address,
    Calling-Station-Id; a CoA adds the new limits)."""
    qs = Disconnect.objects.filter(result=DisconnectResult.PENDING).select_related("nas", "session")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    orders = []
    for d in qs.order_by("pk"):
        host = d.session.nas_ip or (str(ipaddress.ip_network(d.nas.network).network_address) if d.nas else "")
        orders.append(DisconnectOrder(disconnect_id=d.pk, nas_host=host, port=d.nas.coa_port if d.nas else 3799,
                                      secret=nas_secret(d.nas) if d.nas else "", attributes=dict(d.attributes),
                                      attempts=d.attempts, kind=d.kind))
    return orders


def record_disconnect_answer(disconnect_id: int, answer: str, error_cause: int | None = None,
                             now: dt.datetime | None = None) -> Disconnect:
    """answer: "ACK", "NAK" or "TIMEOUT". A timeout stays pending for a retry until
    MAX_DISCONNECT_ATTEMPTS, then GAVE_UP."""
    now = now or timezone.now()
    if answer not in {"ACK", "NAK", "TIMEOUT"}:
        raise InvalidInput("unknown answer", field="answer", expected="ACK, NAK or TIMEOUT", found=answer)
    with transaction.atomic():
        d = Disconnect.objects.select_for_update().get(pk=disconnect_id)
        d.attempts += 1
        d.last_attempt_at = now
        d.error_cause = error_cause
        if answer == "TIMEOUT":
            if d.attempts >= MAX_DISCONNECT_ATTEMPTS:
                d.result = DisconnectResult.GAVE_UP
        else:
            d.result = answer
        d.save()
    return d


# ---------------------------------------------------------------- RADIUS: who is calling

# The RADIUS endpoints are passgate's hottest path (every Access-Request and every accounting
# packet of every guest). Their queries are plain SQL: building them with the ORM cost several
# times what the database spends answering them (measured with cProfile: ~1 ms of Python per
# query). Both backends run the same statements; values come back through _utc/_duration.

NAS_CLIENTS_SQL = """
SELECT n.id, n.organisation_id, n.location_id, n.name, n.network, n.nas_identifier, n.coa_port
FROM guest_nasclient n
WHERE n.organisation_id IN (SELECT t.organisation_id FROM orgs_apitoken t
                            WHERE t.token_hash = %s AND t.revoked_at IS NULL)
"""


def _utc(value: Any) -> dt.datetime | None:
    """A datetime read by raw SQL: aware on PostgreSQL, naive UTC (or text) on SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _duration(value: Any) -> dt.timedelta | None:
    """A DurationField read by raw SQL: an interval on PostgreSQL, microseconds on SQLite."""
    if value is None or isinstance(value, dt.timedelta):
        return value
    return dt.timedelta(microseconds=int(value))


def _db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def radius_nas_clients(token: str) -> list[NasClient]:
    """The NAS clients of the organisation whose (unrevoked) API token this is: one query."""
    if not token:
        return []
    with connection.cursor() as cursor:
        cursor.execute(NAS_CLIENTS_SQL, [hash_token(token)])
        rows = cursor.fetchall()
    return [NasClient(id=r[0], organisation_id=r[1], location_id=r[2], name=r[3], network=r[4], nas_identifier=r[5],
                      coa_port=r[6]) for r in rows]


@functools.lru_cache(maxsize=4096)
def network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A NAS client's network, parsed once per process (RADIUS calls match it on every packet)."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def match_nas(clients: list[NasClient], address: str) -> NasClient | None:
    """The most specific NAS client whose network holds `address`."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    best, best_prefix = None, -1
    for nas in clients:
        net = network(nas.network)
        if net is not None and ip.version == net.version and ip in net and net.prefixlen > best_prefix:
            best, best_prefix = nas, net.prefixlen
    return best


# ---------------------------------------------------------------- RADIUS: authorize

@dataclass(frozen=True)
class Accept:
    password: str
    session_timeout: int | None
    bytes_left: int | None
    idle_timeout: int | None
    bandwidth_up: int | None
    bandwidth_down: int | None
    message: str
    # NO_USE until now: FreeRADIUS then calls post-auth to start the ticket (and only then)
    first_login: bool = False


AUTHORIZE_SQL = """
SELECT t.status, t.valid_from, t.expires_at, t.duration, t.quota_bytes, t.devices, t.password, t.location_id,
       t.idle_timeout, t.bandwidth_up, t.bandwidth_down,
       (SELECT COUNT(DISTINCT s.calling_station) FROM guest_radiussession s
        WHERE s.ticket_id = t.id AND s.stopped_at IS NULL AND s.stale_after > %s AND s.calling_station <> %s),
       (SELECT COALESCE(SUM(s.input_octets + s.output_octets), 0) FROM guest_radiussession s
        WHERE s.ticket_id = t.id)
FROM guest_guestticket t
WHERE t.organisation_id = %s AND t.username = %s
"""


def authorize(nas: NasClient, username: str, station: str, now: dt.datetime | None = None) -> Accept:
    """The decision for one Access-Request (FreeRADIUS checks the password itself against the
    Cleartext-Password returned). One query. Raises Refusal, or NotFound for an unknown user."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(AUTHORIZE_SQL, [_db_time(now), station, nas.organisation_id, username])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("unknown username", field="User-Name", found=username)
    (status, valid_from, expires_at, duration, quota_bytes, devices, password, location_id, idle_timeout,
     bandwidth_up, bandwidth_down, other_devices, bytes_used) = row
    if location_id != nas.location_id:
        raise Refusal("WRONG_LOCATION", "This WiFi ticket is not valid at this location.")
    facts = TicketFacts(status=status, valid_from=_utc(valid_from), expires_at=_utc(expires_at),
                        duration=_duration(duration), quota_bytes=quota_bytes, bytes_used=int(bytes_used),
                        devices=devices, other_devices=int(other_devices))
    grant = rules.decide(facts, now)
    return Accept(password=password, session_timeout=grant.session_timeout, bytes_left=grant.bytes_left,
                  idle_timeout=idle_timeout, bandwidth_up=bandwidth_up, bandwidth_down=bandwidth_down,
                  message=welcome(grant), first_login=status == GuestStatus.NO_USE)


def welcome(grant: rules.Grant) -> str:
    if grant.session_timeout is None:
        return "Welcome."
    minutes = grant.session_timeout // 60
    if minutes >= 120:
        return f"Welcome. Your access is valid for {minutes // 60} more hours."
    return f"Welcome. Your access is valid for {max(minutes, 1)} more minutes."


def mark_first_login(organisation_id: int, username: str, now: dt.datetime | None = None) -> int:
    """NO_USE → IN_USE at first login, starting a duration counted from it. One UPDATE."""
    now = now or timezone.now()
    return (GuestTicket.objects.filter(organisation_id=organisation_id, username=username, status=GuestStatus.NO_USE)
            .update(status=GuestStatus.IN_USE, first_login_at=now,
                    expires_at=Coalesce(F("expires_at"), models.ExpressionWrapper(
                        Value(now, output_field=models.DateTimeField()) + F("duration"),
                        output_field=models.DateTimeField()))))


# ---------------------------------------------------------------- RADIUS: accounting

@dataclass
class AccountingRecord:
    """One Accounting-Request, in passgate's words (freeradius.py reads the wire format)."""

    status_type: str
    unique_id: str = ""
    username: str = ""
    acct_session_id: str = ""
    nas_ip: str | None = None
    calling_station: str = ""
    framed_ip: str | None = None
    session_time: int = 0
    input_octets: int = 0
    output_octets: int = 0
    interim_interval: int | None = None
    terminate_cause: str = ""


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def unique_session_id(rec: AccountingRecord) -> str:
    """Acct-Unique-Session-Id, or (when FreeRADIUS did not compute it) the same recipe:
    a hash of the session's identifying attributes."""
    if rec.unique_id:
        return rec.unique_id[:64]
    raw = "|".join([rec.username, rec.acct_session_id, rec.nas_ip or "", rec.calling_station])
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


INTERIM_SQL = """
UPDATE guest_radiussession
SET session_time = %s, input_octets = %s, output_octets = %s, updated_at = %s, stale_after = %s,
    interim_interval = %s
WHERE organisation_id = %s AND unique_id = %s AND stopped_at IS NULL
RETURNING ticket_id,
    (SELECT t.quota_bytes FROM guest_guestticket t WHERE t.id = guest_radiussession.ticket_id),
    (SELECT COALESCE(SUM(o.input_octets + o.output_octets), 0) FROM guest_radiussession o
     WHERE o.ticket_id = guest_radiussession.ticket_id AND o.id <> guest_radiussession.id)
"""

STOP_SQL = """
UPDATE guest_radiussession
SET session_time = %s, input_octets = %s, output_octets = %s, updated_at = %s, stopped_at = %s,
    terminate_cause = %s
WHERE organisation_id = %s AND unique_id = %s AND stopped_at IS NULL
"""

# A session passgate has not seen yet (a Start, or the first packet of one whose Start was lost):
# inserted with its ticket's id in the same statement; a retried Start hits the unique constraint
# and inserts nothing.
OPEN_SESSION_SQL = """
INSERT INTO guest_radiussession
    (organisation_id, ticket_id, nas_id, unique_id, acct_session_id, username, nas_ip, calling_station, framed_ip,
     started_at, updated_at, stopped_at, interim_interval, stale_after, session_time, input_octets, output_octets,
     terminate_cause)
SELECT t.organisation_id, t.id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
FROM guest_guestticket t
WHERE t.organisation_id = %s AND t.username = %s
ON CONFLICT DO NOTHING
RETURNING (SELECT t.status FROM guest_guestticket t WHERE t.id = guest_radiussession.ticket_id)
"""


def account(nas: NasClient, rec: AccountingRecord, now: dt.datetime | None = None) -> str:
    """Apply one Accounting-Request. Returns what was done (for logs and tests):

    - Start: opens the session; a duplicate Start (the NAS retried) changes nothing.
    - Interim-Update: updates the counters of the open session; for a session passgate never saw
      start (a lost Start) it opens it; for a closed session it changes nothing (the Stop carried
      the final figures, and a late interim must not reopen a slot).
    - Stop: closes the session with its final counters (creating it if the Start was lost).
    - Accounting-On / Accounting-Off: the NAS rebooted: its open sessions are closed.

    An Interim-Update or a Stop of a known session is one statement (an interim's RETURNING
    brings the ticket's quota and the other sessions' traffic for the quota check); a Start is one
    statement too, plus the first-login update when it is the ticket's first session.
    """
    now = now or timezone.now()
    kind = rec.status_type
    org = nas.organisation_id
    if kind in {"Accounting-On", "Accounting-Off"}:
        n = (RadiusSession.objects.filter(nas=nas, stopped_at__isnull=True)
             .update(stopped_at=now, terminate_cause="NAS-Reboot" if kind == "Accounting-On" else "NAS-Request"))
        return f"closed {n}"
    if kind not in {"Start", "Interim-Update", "Stop"}:
        return "ignored"
    uid = unique_session_id(rec)
    interval = rec.interim_interval or DEFAULT_INTERIM
    session_time, upload, download = max(rec.session_time, 0), max(rec.input_octets, 0), max(rec.output_octets, 0)
    stale_after = now + dt.timedelta(seconds=STALE_FACTOR * interval)
    with connection.cursor() as cursor:
        if kind == "Interim-Update":
            cursor.execute(INTERIM_SQL, [session_time, upload, download, _db_time(now), _db_time(stale_after),
                                         interval, org, uid])
            row = cursor.fetchone()
            if row is not None:
                ticket_id, quota, others = row
                return _quota_check(ticket_id, quota, int(others) + upload + download, now)
        elif kind == "Stop":
            cursor.execute(STOP_SQL, [session_time, upload, download, _db_time(now), _db_time(now),
                                      rec.terminate_cause[:40], org, uid])
            if cursor.rowcount:
                return "stopped"
        stopped = _db_time(now) if kind == "Stop" else None
        cursor.execute(OPEN_SESSION_SQL, [
            nas.pk, uid, rec.acct_session_id[:64], rec.username[:64], _ip_or_none(rec.nas_ip),
            rec.calling_station[:50], _ip_or_none(rec.framed_ip),
            _db_time(now - dt.timedelta(seconds=session_time)), _db_time(now), stopped, interval,
            _db_time(stale_after), session_time, upload, download,
            rec.terminate_cause[:40] if kind == "Stop" else "", org, rec.username])
        opened = cursor.fetchone()
    if opened is None:
        if not GuestTicket.objects.filter(organisation_id=org, username=rec.username).exists():
            return "unknown user"  # nothing to account against; answered OK so the NAS does not retry forever
        return "duplicate"  # a retried Start, or an Interim/Stop for a session already closed
    if opened[0] == GuestStatus.NO_USE:
        mark_first_login(org, rec.username, now)
    return {"Start": "started", "Interim-Update": "started late", "Stop": "stopped late"}[kind]


def _quota_check(ticket_id: int, quota_bytes: int | None, used: int, now: dt.datetime) -> str:
    """After an interim: a ticket whose quota is used up has its open sessions cut; one whose
    quota runs low has them told what is left (a CoA-Request, once)."""
    if quota_bytes is None:
        return "updated"
    if quota_runs_low(quota_bytes, used):
        return "quota low" if change_limits(ticket_id, quota_bytes - used, now) else "updated"
    if used < quota_bytes:
        return "updated"
    cut_sessions(_open_sessions([ticket_id]), CutReason.QUOTA, now)
    return "quota used"


def ticket_sessions(ticket: GuestTicket, limit: int = 200) -> list[RadiusSession]:
    """A ticket's connections, newest first (its page shows them, and refreshes them live)."""
    return list(ticket.sessions.select_related("nas").order_by("-started_at", "-pk")[:limit])


def usage_annotations() -> dict[str, Any]:
    """Connections, accumulated session time, upload and download of each ticket (subqueries, so
    filters and pagination do not multiply rows)."""
    def total(expr):
        return Coalesce(Subquery(RadiusSession.objects.filter(ticket=OuterRef("pk")).order_by().values("ticket")
                                 .annotate(v=expr).values("v")), 0)
    return {"connections": total(Count("pk")), "session_time": total(Sum("session_time")),
            "upload": total(Sum("input_octets")), "download": total(Sum("output_octets"))}


def tickets_with_usage(organisation: Organisation) -> models.QuerySet[GuestTicket]:
    """The organisation's tickets with their connections, accumulated time and traffic."""
    return GuestTicket.objects.filter(organisation=organisation).annotate(**usage_annotations())


def filter_tickets(qs: models.QuerySet[GuestTicket], *, serial: str = "", user_id: str = "", username: str = "",
                   type: str = "", status: str = "", created_from: dt.datetime | None = None,
                   created_to: dt.datetime | None = None, first_login_from: dt.datetime | None = None,
                   first_login_to: dt.datetime | None = None, connections_min: int | None = None,
                   connections_max: int | None = None, devices: int | None = None) -> models.QuerySet[GuestTicket]:
    """The seed's criteria: serial, creation, user ID, type, status, connections, first login,
    username, number of devices."""
    q = Q()
    if serial:
        q &= Q(serial__icontains=serial.strip())
    if user_id:
        q &= Q(user_id__icontains=user_id.strip())
    if username:
        q &= Q(username__icontains=username.strip())
    if type:
        q &= Q(type=type)
    if status:
        q &= Q(status=status)
    if created_from:
        q &= Q(created_at__gte=created_from)
    if created_to:
        q &= Q(created_at__lt=created_to)
    if first_login_from:
        q &= Q(first_login_at__gte=first_login_from)
    if first_login_to:
        q &= Q(first_login_at__lt=first_login_to)
    if devices is not None:
        q &= Q(devices=devices)
    qs = qs.filter(q)
    if connections_min is not None:
        qs = qs.filter(connections__gte=connections_min)
    if connections_max is not None:
        qs = qs.filter(connections__lte=connections_max)
    return qs
