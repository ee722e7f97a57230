"""The classes of bad input an outside integrator sends, aimed at every text and
enumerated property of every JSON body in the OpenAPI document (what schemathesis
does not generate: lone surrogates, NUL, unknown enum values, a list where text is
expected, an oversized body). Shared by the API and the access suites.

The oracle is written from the contract, not from the code: the status of each
class and that the error names the property by its path in the body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.test import Client

# Bad value → (allowed statuses, must the error name the property?)
SURROGATE = "a\ud800b"
NUL = "a\x00b"
UNKNOWN = "ROBOT-NOT-A-VALUE"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    schema: dict[str, Any]
    security: str | None  # "TokenAuth", "DeviceAuth" or None

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"


def openapi() -> dict[str, Any]:
    from passgate.api import api

    return api.get_openapi_schema()


def operations(doc: dict[str, Any], tags: set[str] | None = None, exclude: set[str] | None = None) -> list[Operation]:
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            op_tags = set(op.get("tags") or [])
            if body is None or (tags and not op_tags & tags) or (exclude and op_tags & exclude):
                continue
            security = next(iter((op.get("security") or [{}])[0]), None)
            out.append(Operation(method, path, body["schema"], security))
    return out


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return resolve(doc, schema["allOf"][0])
    return schema


def _alternatives(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(doc, schema)
    if "anyOf" in schema:
        return [resolve(doc, s) for s in schema["anyOf"] if s.get("type") != "null"]
    return [schema]


def sample(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A small value that the schema accepts."""
    alts = _alternatives(doc, schema)
    if not alts:
        return None
    s = alts[0]
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "object" or "properties" in s:
        return {name: sample(doc, prop) for name, prop in (s.get("properties") or {}).items()
                if name in (s.get("required") or [])}
    if kind == "array":
        return [sample(doc, s["items"]) for _ in range(s.get("minItems", 0))]
    if kind == "integer":
        return max(1, s.get("minimum", 1))
    if kind == "number":
        return max(1, s.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = s.get("format")
        if fmt == "date-time":
            return "2030-01-01T10:00:00Z"
        if fmt == "date":
            return "2000-01-01"
        return "x" * max(1, s.get("minLength", 1))
    return "x"


def _field(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def text_properties(doc: dict[str, Any], schema: dict[str, Any], parts: tuple[Any, ...] = (),
                    depth: int = 0) -> Iterator[tuple[tuple[Any, ...], bool]]:
    """(path, is_enum) of every property that takes text, nested objects and lists included."""
    if depth > 4:
        return
    for s in _alternatives(doc, schema):
        if s.get("type") == "object" or "properties" in s:
            for name, prop in (s.get("properties") or {}).items():
                yield from text_properties(doc, prop, parts + (name,), depth + 1)
        elif s.get("type") == "array":
            yield from text_properties(doc, s["items"], parts + (0,), depth + 1)
        elif s.get("type") == "string" and parts:
            yield parts, "enum" in s
            return


def with_value(doc: dict[str, Any], schema: dict[str, Any], base: Any, parts: tuple[Any, ...], value: Any) -> Any:
    """base with `value` put at `parts`, creating the containers on the way as valid samples."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    alts = _alternatives(doc, schema)
    if isinstance(head, int):
        s = next(a for a in alts if a.get("type") == "array")
        items = list(base) if isinstance(base, list) and base else [sample(doc, s["items"])]
        items[0] = with_value(doc, s["items"], items[0], rest, value)
        return items
    s = next(a for a in alts if a.get("type") == "object" or "properties" in a)
    out = dict(base) if isinstance(base, dict) else sample(doc, s)
    prop = (s.get("properties") or {})[head]
    out[head] = with_value(doc, prop, out.get(head), rest, value)
    return out


@dataclass
class Case:
    label: str
    field: str
    body: bytes
    statuses: tuple[int, ...]


def cases(doc: dict[str, Any], op: Operation, extra: dict[str, dict[str, Any]] | None = None,
          limit: int = 2_621_440) -> Iterator[Case]:
    """Every bad class into every text property of the operation's body, plus an oversized body.
    `extra`: for a body that carries free-form items (`list[dict[str, Any]]`), a valid item and
    the names of its text fields (checked by the service's cleaners, not by the schema)."""
    schema = op.schema
    base = sample(doc, schema)
    for parts, is_enum in text_properties(doc, schema):
        field = _field(parts)
        for label, value, statuses in (("lone surrogate", SURROGATE, (400,)), ("NUL", NUL, (422,)),
                                       ("a list for text", ["x"], (422,)), ("an object for text", {"a": 1}, (422,))):
            body = with_value(doc, schema, base, parts, value)
            yield Case(f"{label} in {field}", field, json.dumps(body).encode(), statuses)
        if is_enum:
            body = with_value(doc, schema, base, parts, UNKNOWN)
            yield Case(f"unknown value of {field}", field, json.dumps(body).encode(), (422,))
    for list_name, spec in (extra or {}).items():
        for name, is_enum in spec["text"].items():
            field = f"{list_name}[0].{name}"
            values = [("a list for text", ["x"], (422,)), ("an object for text", {"a": 1}, (422,)),
                      ("lone surrogate", SURROGATE, (400,)), ("NUL", NUL, (422,))]
            if is_enum:
                values.append(("unknown value", UNKNOWN, (422,)))
            for label, value, statuses in values:
                body = dict(base) | {list_name: [spec["item"] | {name: value}]}
                yield Case(f"{label} in {field}", field, json.dumps(body).encode(), statuses)
    # A plain JSON body over the limit: a 3 MB string in a valid document.
    big = dict(base) if isinstance(base, dict) else {}
    big["padding"] = "x" * (limit + 400_000)
    yield Case("oversized body", "body", json.dumps(big).encode(), (413,))


def fill_path(path: str, ids: dict[str, Any]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def send(client: Client, method: str, url: str, case: Case):
    return getattr(client, method)(url, data=case.body, content_type="application/json")


def check(response, case: Case, where: str) -> list[str]:
    """Problems with one answer: a 5xx, not JSON, no code/field, the wrong status or field,
    a 422 without expected/found."""
    label = f"{where}: {case.label}"
    if response.status_code >= 500:
        return [f"{label}: {response.status_code}"]
    if not response["Content-Type"].startswith("application/json"):
        return [f"{label}: not JSON ({response['Content-Type']})"]
    error = response.json()
    problems = []
    if not {"code", "field"} <= set(error):
        problems.append(f"{label}: no code/field in {error}")
    if response.status_code not in case.statuses:
        problems.append(f"{label}: {response.status_code} (expected {case.statuses}) {error}")
        return problems
    fields = {error.get("field")} | {d.get("field") for d in error.get("errors") or []}
    if case.field not in fields:
        problems.append(f"{label}: the error names {sorted(map(str, fields))}, not {case.field}")
    if response.status_code == 422:
        for detail in [error, *(error.get("errors") or [])]:
            if not detail.get("expected") or not detail.get("found"):
                problems.append(f"{label}: a 422 without expected/found: {detail}")
    return problems
