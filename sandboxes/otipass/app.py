"""The Otipass partner (city pass), as passgate models it (CONTRACTS.md "Otipass").

Base `/api/{project}/v1`, HTTP Basic auth (user name + password that is an API key):
- `GET  /api/{project}/v1/passes/{number}` → the pass, 404 when unknown;
- `POST /api/{project}/v1/usages` `{number, serviceId, pspaceId, usedAt, offline, reference}` →
  `201 {usageId, accepted: true, pass}` | `422 {accepted: false, reason}` |
  `200 {usageId, accepted: false, recordedLate: true, reason, pass}` (an offline usage refused at
  `usedAt`, recorded all the same because the visitor is already inside); idempotent by `reference`;
- `GET  /api/{project}/v1/passes?changedSince={cursor}&limit={n}` → `{passes, nextCursor}`.

Control (besides the framework's): `POST /_sandbox/seed` (merge, idempotent; `{"demo": true}` loads
the demo project), `POST /_sandbox/passes/{project}/{number}/block` and `…/expire`.
See docs/sandboxes.md for the whole behaviour.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import os
import random
import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandboxes import framework
from sandboxes.framework import SandboxState

STATES = ("CREATED", "INACTIVE", "ACTIVE", "EXPIRED", "INVALID", "BLOCKED")
REASONS = ("UNKNOWN", "INACTIVE", "EXPIRED", "INVALID", "BLOCKED", "ALREADY_CHECKED", "SERVICE_NOT_INCLUDED")
# a pass in this state refuses every usage with this reason
STATE_REASONS = {"CREATED": "INACTIVE", "INACTIVE": "INACTIVE", "EXPIRED": "EXPIRED", "INVALID": "INVALID",
                 "BLOCKED": "BLOCKED"}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# an offline usage may not be dated after now (plus this clock skew)
CLOCK_SKEW = dt.timedelta(minutes=5)
SERIAL_RE = re.compile(r"^[A-Za-z]+[A-Za-z0-9]*$")

DEMO_PROJECT = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "otipass-demo-key"
DEMO_SERVICES = {  # sector code (passgate side) → Otipass service, as in the seed's example mapping
    "DDMM_AUG": ("PCUMID031FS00061", "Musée des Augustins"),
    "DDMM_MSR": ("PCUMID031FS00071", "Musée Saint-Raymond"),
    "DMM_DUP": ("PCUMID031FS0006E", "Musée Paul-Dupuy"),
}


class SeedError(ValueError):
    pass


# ---------------------------------------------------------------- pass numbers

def luhn_valid(number: str) -> bool:
    """True when `number` is all digits and its last digit is the Luhn check digit of the others."""
    if not number.isascii() or not number.isdigit() or len(number) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(payload + digit):
            return digit
    raise ValueError(f"not digits: {payload!r}")


def number_kind(number: str) -> str | None:
    """`numeric` (Luhn-valid integer), `serial` (alphanumeric, starting with letters), or None."""
    if number.isascii() and number.isdigit():
        return "numeric" if luhn_valid(number) else None
    if number.isascii() and SERIAL_RE.match(number):
        return "serial"
    return None


# ---------------------------------------------------------------- time

def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fmt(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value) -> dt.datetime | None:
    """An ISO 8601 date-time with its offset (or Z); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(dt.UTC)


# ---------------------------------------------------------------- state

def initial(demo: bool = False):
    def make() -> dict:
        data = {"projects": {}}
        if demo:
            seed_projects(data, demo_seed())
        return data
    return make


def _project(data: dict, name: str) -> dict:
    return data["projects"].setdefault(name, {"username": None, "password": None, "services": {}, "passes": {},
                                              "references": {}, "counter": 0, "nextUsageId": 1})


def _bump(project: dict, pass_: dict) -> None:
    project["counter"] += 1
    pass_["changeSeq"] = project["counter"]


def _set_state(project: dict, pass_: dict, state: str, at: dt.datetime) -> None:
    pass_["state"] = state
    pass_["history"].append({"at": fmt(at), "state": state})
    _bump(project, pass_)


def _state_at(pass_: dict, moment: dt.datetime) -> str:
    """The pass's state at `moment` (from its history of state changes)."""
    state = pass_["history"][0]["state"]
    for change in pass_["history"]:
        if parse_time(change["at"]) <= moment:
            state = change["state"]
    return state


def public(project: dict, pass_: dict) -> dict:
    """A pass as the partner shows it."""
    included = pass_["includedServices"]
    return {
        "number": pass_["number"], "kind": pass_["kind"], "state": pass_["state"],
        "productRef": pass_["productRef"], "validFrom": pass_["validFrom"], "validUntil": pass_["validUntil"],
        "validityHours": pass_["validityHours"],
        "includedServices": sorted(project["services"]) if included is None else list(included),
        "usages": [dict(u) for u in pass_["usages"]],
    }


# ---------------------------------------------------------------- seeding

def _seed_time(entry: dict, key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    moment = parse_time(value)
    if moment is None:
        raise SeedError(f"pass {entry.get('number')!r}: {key} must be an ISO 8601 date-time with its offset")
    return fmt(moment)


def _seed_pass(project: dict, entry: dict, at: dt.datetime) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("number"), str):
        raise SeedError("each pass needs a string number")
    number = entry["number"]
    kind = number_kind(number)
    if kind is None:
        raise SeedError(f"pass {number!r}: neither numeric with a Luhn check digit nor serial "
                        "(alphanumeric, starting with letters)")
    if entry.get("kind", kind) != kind:
        raise SeedError(f"pass {number!r}: kind {entry['kind']!r} but the number is {kind}")
    state = entry.get("state", "ACTIVE")
    if state not in STATES:
        raise SeedError(f"pass {number!r}: state {state!r} not one of {', '.join(STATES)}")
    hours = entry.get("validityHours")
    if hours is not None and (not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0):
        raise SeedError(f"pass {number!r}: validityHours must be a positive integer or null")
    included = entry.get("includedServices")
    if included is not None:
        if not isinstance(included, list) or not all(isinstance(s, str) for s in included):
            raise SeedError(f"pass {number!r}: includedServices must be a list of service ids")
        included = sorted({s.upper() for s in included})
    defaults = {"kind": kind, "state": state, "productRef": str(entry.get("productRef", "PASS")),
                "validFrom": _seed_time(entry, "validFrom"), "validUntil": _seed_time(entry, "validUntil"),
                "validityHours": hours, "includedServices": included}
    # merge: the fields the entry names replace the pass's, the others stay (e.g. a validUntil set by a usage)
    wanted = {k: v for k, v in defaults.items() if k == "kind" or k in entry}
    usages = entry.get("usages", [])
    if not isinstance(usages, list):
        raise SeedError(f"pass {number!r}: usages must be a list of {{serviceId, usedAt}}")
    current = project["passes"].get(number)
    if current is None:
        current = project["passes"][number] = {"number": number, **defaults, "usages": [], "firstUsedAt": None,
                                                "history": [{"at": fmt(at), "state": state}], "changeSeq": 0}
        _bump(project, current)
    elif any(current[k] != v for k, v in wanted.items()):
        if "state" in wanted and current["state"] != state:
            current["history"].append({"at": fmt(at), "state": state})
        current.update(wanted)
        _bump(project, current)
    for usage in usages:
        service = str(usage.get("serviceId", "")).upper() if isinstance(usage, dict) else ""
        used_at = parse_time(usage.get("usedAt")) if isinstance(usage, dict) else None
        if not service or used_at is None:
            raise SeedError(f"pass {number!r}: each seeded usage needs serviceId and usedAt")
        if any(u["serviceId"] == service and u["usedAt"] == fmt(used_at) for u in current["usages"]):
            continue  # already seeded: seeding is idempotent
        pspace = project["services"].get(service, {}).get("pspaceId", f"PROVIDER#{service}")
        _record(project, current, service, pspace, used_at, offline=False, accepted=True, reason=None)


def seed_projects(data: dict, payload: dict, at: dt.datetime | None = None) -> None:
    """Merge `payload` into `data` (idempotent: the same payload twice changes nothing)."""
    at = at or now()
    if not isinstance(payload, dict):
        raise SeedError('expected {"projects": {...}} or {"demo": true}')
    unknown = set(payload) - {"projects", "demo"}
    if unknown:
        raise SeedError(f"unknown keys {sorted(unknown)}; known: demo, projects")
    if payload.get("demo"):
        seed_projects(data, demo_seed(), at)
    projects = payload.get("projects", {})
    if not isinstance(projects, dict):
        raise SeedError('"projects" must be an object: project id → project')
    for name, spec in projects.items():
        if not isinstance(spec, dict):
            raise SeedError(f"project {name!r} must be an object")
        project = _project(data, name)
        for key in ("username", "password"):
            if key in spec:
                if not isinstance(spec[key], str):
                    raise SeedError(f"project {name!r}: {key} must be a string")
                project[key] = spec[key]
        services = spec.get("services", {})
        if not isinstance(services, dict):
            raise SeedError(f"project {name!r}: services must be an object: serviceId → {{pspaceId, name}}")
        for service_id, service in services.items():
            service = service if isinstance(service, dict) else {}
            project["services"][service_id.upper()] = {
                "pspaceId": str(service.get("pspaceId", f"PROVIDER#{service_id.upper()}")),
                "name": str(service.get("name", service_id))}
        passes = spec.get("passes", [])
        if not isinstance(passes, list):
            raise SeedError(f"project {name!r}: passes must be a list")
        for entry in passes:
            _seed_pass(project, entry, at)


def seed(state: SandboxState, payload: dict) -> None:
    # validate on a copy, so a refused seed changes nothing
    data = copy.deepcopy(state.data)
    seed_projects(data, payload)
    state.data.clear()
    state.data.update(data)


def demo_seed(today: dt.date | None = None, count: int = 300) -> dict:
    """Project `demo`: the seed's three services and `count` passes in every state, both kinds.

    The numbers, kinds, states and products come from a seeded random generator (the same every
    time); the dates are relative to today (UTC), so some passes always expire today."""
    today = today or now().date()
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    rng = random.Random(8)
    services = sorted(sid for sid, _ in DEMO_SERVICES.values())
    products = [("PASS24", 24), ("PASS48", 48), ("PASS72", 72)]
    passes = []
    for i in range(count):
        if i % 3 == 2:
            number = "TLS" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2)) + f"{i:05d}"
        else:
            payload = "8250" + f"{i:04d}" + "".join(rng.choice("0123456789") for _ in range(4))
            number = payload + luhn_check_digit(payload)
        product, hours = products[rng.randrange(3)]
        entry = {"number": number, "productRef": product, "validityHours": hours,
                 "validFrom": fmt(midnight - dt.timedelta(days=30))}
        roll = rng.random()
        if roll < 0.25:  # active, never used: validity starts at first use
            entry["state"] = "ACTIVE"
        elif roll < 0.45:  # active, used once at one service yesterday evening: valid until tonight or later
            evening = rng.randrange(20, 23)
            rng.choice([0, 0, 1])  # an earlier version's draw, kept: the numbers stay those the docs name
            used_at = midnight - dt.timedelta(days=1) + dt.timedelta(hours=evening)
            entry |= {"state": "ACTIVE", "usages": [{"serviceId": rng.choice(services), "usedAt": fmt(used_at)}],
                      "validUntil": fmt(used_at + dt.timedelta(hours=hours))}
        elif roll < 0.55:  # active, expiring today (first used 1..3 days ago)
            until = midnight + dt.timedelta(hours=rng.randrange(12, 24))
            used_at = until - dt.timedelta(hours=hours)
            entry |= {"state": "ACTIVE", "usages": [{"serviceId": rng.choice(services), "usedAt": fmt(used_at)}],
                      "validUntil": fmt(until)}
        elif roll < 0.62:  # active, but only at two of the three services
            entry |= {"state": "ACTIVE", "includedServices": rng.sample(services, 2)}
        elif roll < 0.70:
            entry["state"] = "CREATED"
        elif roll < 0.78:
            entry["state"] = "INACTIVE"
        elif roll < 0.88:  # used up: validity ended yesterday
            until = midnight - dt.timedelta(hours=rng.randrange(1, 24))
            entry |= {"state": "EXPIRED", "validUntil": fmt(until),
                      "usages": [{"serviceId": rng.choice(services), "usedAt": fmt(until - dt.timedelta(hours=hours))}]}
        elif roll < 0.94:
            entry["state"] = "INVALID"
        else:
            entry["state"] = "BLOCKED"
        passes.append(entry)
    return {"projects": {DEMO_PROJECT: {
        "username": DEMO_USERNAME, "password": DEMO_PASSWORD,
        "services": {sid: {"pspaceId": f"PROVIDER#{sid}", "name": name} for sid, name in DEMO_SERVICES.values()},
        "passes": passes}}}


# ---------------------------------------------------------------- partner API

def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _error(status: int, message: str, **extra) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="otipass"'} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _authorised(request: Request) -> tuple[dict | None, JSONResponse | None]:
    """The project named in the path, or the 404 / 401 answer."""
    name = request.path_params["project"]
    project = _state(request).data["projects"].get(name)
    if project is None:
        return None, _error(404, f"unknown project {name!r}")
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if scheme.lower() != "basic" or not sep or project["username"] is None \
            or (user, password) != (project["username"], project["password"]):
        return None, _error(401, "wrong user name or API key")
    return project, None


async def get_pass(request: Request):
    state = _state(request)
    with state.lock:
        project, denied = _authorised(request)
        if denied:
            return denied
        pass_ = project["passes"].get(request.path_params["number"])
        if pass_ is None:
            return _error(404, "unknown pass", reason="UNKNOWN")
        return JSONResponse(public(project, pass_))


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"otp1:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, seq = text.partition(":")
    if prefix != "otp1" or not seq.isdigit():
        return None
    return int(seq)


async def list_passes(request: Request):
    state = _state(request)
    params = request.query_params
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return _error(400, f"limit: expected an integer from 1 to {MAX_LIMIT}, found {raw_limit!r}", field="limit")
    limit = int(raw_limit)
    after = 0
    if params.get("changedSince"):
        after = _decode_cursor(params["changedSince"])
        if after is None:
            return _error(400, "changedSince: not a cursor this partner gave", field="changedSince")
    with state.lock:
        project, denied = _authorised(request)
        if denied:
            return denied
        changed = sorted((p for p in project["passes"].values() if p["changeSeq"] > after),
                         key=lambda p: p["changeSeq"])[:limit]
        last = changed[-1]["changeSeq"] if changed else max(after, 0)
        return JSONResponse({"passes": [public(project, p) for p in changed], "nextCursor": _encode_cursor(last)})


USAGE_FIELDS = {"number": str, "serviceId": str, "pspaceId": str, "usedAt": str, "offline": bool, "reference": str}


def _validate_usage(body) -> tuple[dict | None, JSONResponse | None]:
    if not isinstance(body, dict):
        return None, _error(400, "expected a JSON object {number, serviceId, pspaceId, usedAt, offline, reference}")
    for name, kind in USAGE_FIELDS.items():
        if name not in body:
            return None, _error(400, f"{name}: missing", field=name)
        if not isinstance(body[name], kind):
            return None, _error(400, f"{name}: expected {'a boolean' if kind is bool else 'a string'}", field=name)
        if kind is str and not body[name].strip():
            return None, _error(400, f"{name}: empty", field=name)
    if len(body["reference"]) > 200:
        return None, _error(400, "reference: at most 200 characters", field="reference")
    used_at = parse_time(body["usedAt"])
    if used_at is None:
        return None, _error(400, "usedAt: expected an ISO 8601 date-time with its offset", field="usedAt")
    if body["offline"] and used_at > now() + CLOCK_SKEW:
        return None, _error(400, "usedAt: an offline usage is in the past", field="usedAt")
    return {**body, "usedAt": used_at, "serviceId": body["serviceId"].upper()}, None


def _refusal(project: dict, pass_: dict, service: str, moment: dt.datetime) -> str | None:
    """Why a usage at `service` at `moment` is refused, or None when it is accepted."""
    state = _state_at(pass_, moment)
    if state in STATE_REASONS:
        return STATE_REASONS[state]
    if pass_["validFrom"] and moment < parse_time(pass_["validFrom"]):
        return "INACTIVE"
    if pass_["validUntil"] and moment >= parse_time(pass_["validUntil"]):
        return "EXPIRED"
    included = project["services"] if pass_["includedServices"] is None else pass_["includedServices"]
    if service not in included:
        return "SERVICE_NOT_INCLUDED"
    if any(u["serviceId"] == service for u in pass_["usages"]):
        return "ALREADY_CHECKED"
    return None


def _record(project: dict, pass_: dict, service: str, pspace: str, used_at: dt.datetime, *, offline: bool,
            accepted: bool, reason: str | None, reference: str | None = None) -> dict:
    usage = {"usageId": f"U{project['nextUsageId']:07d}", "serviceId": service, "pspaceId": pspace,
             "usedAt": fmt(used_at), "offline": offline, "accepted": accepted, "reference": reference}
    if not accepted:
        usage |= {"recordedLate": True, "reason": reason}
    project["nextUsageId"] += 1
    pass_["usages"].append(usage)
    if accepted and pass_["validityHours"]:
        # validity that starts at first use: the earliest accepted usage sets validUntil
        first = parse_time(pass_["firstUsedAt"]) if pass_["firstUsedAt"] else None
        if pass_["validUntil"] is None or (first is not None and used_at < first):
            pass_["firstUsedAt"] = fmt(used_at)
            pass_["validUntil"] = fmt(used_at + dt.timedelta(hours=pass_["validityHours"]))
    _bump(project, pass_)
    return usage


async def post_usage(request: Request):
    state = _state(request)
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "body: not JSON")
    with state.lock:
        project, denied = _authorised(request)
        if denied:
            return denied
        usage, invalid = _validate_usage(body)
        if invalid:
            return invalid
        known = project["references"].get(usage["reference"])
        if known is not None:
            return JSONResponse(known["body"], status_code=known["status"])
        service = usage["serviceId"]
        # ids compare without case: the seed's example mapping has "pcumid031fs00061" for PCUMID031FS00061
        if service in project["services"] and \
                project["services"][service]["pspaceId"].upper() != usage["pspaceId"].upper():
            return _error(400, f"pspaceId: service {service} is in {project['services'][service]['pspaceId']}",
                          field="pspaceId")
        if state.faults.refuses(usage["number"]):
            # the `partial` fault: this usage fails (not recorded, reference not kept: a retry can succeed)
            return _error(503, "the partner could not record this usage", fault="partial")
        pass_ = project["passes"].get(usage["number"])
        offline = usage["offline"]
        moment = usage["usedAt"] if offline else now()
        if pass_ is None:
            status, answer = 422, {"accepted": False, "reason": "UNKNOWN"}
        else:
            reason = _refusal(project, pass_, service, moment)
            if reason is None:
                recorded = _record(project, pass_, service, usage["pspaceId"], moment, offline=offline,
                                   accepted=True, reason=None, reference=usage["reference"])
                status, answer = 201, {"usageId": recorded["usageId"], "accepted": True,
                                       "pass": public(project, pass_)}
            elif offline:
                recorded = _record(project, pass_, service, usage["pspaceId"], moment, offline=True,
                                   accepted=False, reason=reason, reference=usage["reference"])
                status, answer = 200, {"usageId": recorded["usageId"], "accepted": False, "recordedLate": True,
                                       "reason": reason, "pass": public(project, pass_)}
            else:
                status, answer = 422, {"accepted": False, "reason": reason}
        project["references"][usage["reference"]] = {"status": status, "body": answer}
        state.save()
        return JSONResponse(answer, status_code=status)


# ---------------------------------------------------------------- control

async def control_seed(request: Request):
    state = _state(request)
    try:
        payload = await request.json()
    except ValueError:
        return _error(400, "body: not JSON")
    with state.lock:
        try:
            seed(state, payload)
        except SeedError as exc:
            return _error(400, str(exc))
        state.save()
    return JSONResponse({"seeded": True})


async def control_pass_state(request: Request):
    state = _state(request)
    action = request.path_params["action"]
    if action not in {"block", "expire"}:
        return _error(404, f"unknown action {action!r}; known: block, expire")
    with state.lock:
        project = state.data["projects"].get(request.path_params["project"])
        pass_ = project["passes"].get(request.path_params["number"]) if project else None
        if pass_ is None:
            return _error(404, "unknown project or pass")
        moment = now()
        if action == "block":
            _set_state(project, pass_, "BLOCKED", moment)
        else:
            if pass_["validUntil"] is None or parse_time(pass_["validUntil"]) > moment:
                pass_["validUntil"] = fmt(moment)
            _set_state(project, pass_, "EXPIRED", moment)
        state.save()
        return JSONResponse(public(project, pass_))


def inspect(state: SandboxState) -> dict:
    projects = {}
    for name, project in state.data["projects"].items():
        passes = {n: {**public(project, p), "changeSeq": p["changeSeq"], "history": p["history"]}
                  for n, p in project["passes"].items()}
        usages = sorted(({"number": n, **u} for n, p in project["passes"].items() for u in p["usages"]),
                        key=lambda u: u["usageId"])
        projects[name] = {"username": project["username"], "password": project["password"],
                          "services": project["services"], "counter": project["counter"],
                          "references": len(project["references"]), "passes": passes, "usages": usages}
    return {"projects": projects}


def create_app(state_file: str | None = None, demo: bool | None = None):
    """The Otipass sandbox. `demo=True` (or env `PASSGATE_OTIPASS_DEMO=1` when `demo` is not given)
    starts with the demo project, and `/_sandbox/reset` returns to it."""
    if demo is None:
        demo = os.environ.get("PASSGATE_OTIPASS_DEMO", "").lower() in {"1", "true", "yes"}
    routes = [
        Route("/api/{project}/v1/passes", list_passes, methods=["GET"]),
        Route("/api/{project}/v1/passes/{number}", get_pass, methods=["GET"]),
        Route("/api/{project}/v1/usages", post_usage, methods=["POST"]),
        Route("/_sandbox/passes/{project}/{number}/{action}", control_pass_state, methods=["POST"]),
    ]
    app = framework.create_app("otipass", routes, initial=initial(demo), state_file=state_file, seed=seed,
                               inspect=inspect)
    # our seed answers 400 on a bad payload (the framework's would be a 500): it goes first
    app.router.routes.insert(0, Route("/_sandbox/seed", control_seed, methods=["POST"]))
    return app
