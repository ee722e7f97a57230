"""The registry: how the core (the `jobs` room) knows connectors.

A connector is an installed Django app (`passgate.connectors.<name>`) that, in
its AppConfig.ready(), registers an *interface type* (its URL rule, its
parameter schema, its "test connection", and optionally the hook the doors use
to recognise and validate its cards) and the *functions* that run on it (each
with its own parameter schema, default and maximum batch size, and whether it
selects "since the last run"). The core never imports a connector: it asks
this registry, the only one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from passgate.errors import InvalidInput


class NoParams(BaseModel):
    """A schema for "no parameters"; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ConnectionReport:
    """What "test connection" says, in plain words."""

    ok: bool
    message: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, detail)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message,
                "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in self.checks]}


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    label: str
    run: Callable[[Any], None]  # called with a jobs.runner.RunContext
    params_schema: type[BaseModel] = NoParams
    default_batch_size: int | None = 1000
    max_batch_size: int | None = 10000
    uses_watermark: bool = False
    supports_simulation: bool = True
    description: str = ""
    # Built-in functions (maintenance) get a schedule in every organisation, created by jobs.
    builtin: bool = False
    default_frequency_minutes: int = 5


@dataclass(frozen=True)
class NormalisedConfig:
    url: str
    parameters: dict[str, Any]


@dataclass
class InterfaceTypeSpec:
    code: str
    label: str
    params_schema: type[BaseModel] = NoParams
    # (url, parameters) → NormalisedConfig; raises InvalidInput for a URL that cannot be right.
    normalise: Callable[[str, dict[str, Any]], NormalisedConfig] | None = None
    # Interfaces of types sharing a group are "one per organisation" (DB-enforced).
    singleton_group: str | None = None
    test_connection: Callable[[Any], ConnectionReport] | None = None
    # Which credential the secret is (shown as the label of the write-only field).
    secret_label: str = "password / API key"
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    # The doors' hook (an access.connectors.AccessConnector) when the partner's cards are
    # scanned at passgate doors: a sector linked to an interface of this type uses it.
    access: Any = None
    # (organisation, parameters) → None; raises InvalidInput when the parameters name things the
    # organisation does not have (a point of sale, a channel…). Called when an interface is saved.
    check: Callable[[Any, dict[str, Any]], None] | None = None


_types: dict[str, InterfaceTypeSpec] = {}
_lock = threading.RLock()


def register_type(spec: InterfaceTypeSpec) -> InterfaceTypeSpec:
    with _lock:
        existing = _types.get(spec.code)
        if existing is not None:
            # A connector may re-register a type skeleton with its test_connection etc.;
            # functions already registered are kept.
            spec.functions = {**existing.functions, **spec.functions}
        _types[spec.code] = spec
    return spec


def register_function(type_code: str, spec: FunctionSpec) -> FunctionSpec:
    with _lock:
        if type_code not in _types:
            raise KeyError(f"register the interface type {type_code} before its functions")
        _types[type_code].functions[spec.name] = spec
    return spec


def unregister_type(code: str) -> None:
    """Tests register throw-away types; they remove them with this."""
    with _lock:
        _types.pop(code, None)


def types() -> dict[str, InterfaceTypeSpec]:
    return dict(_types)


def type_choices() -> list[tuple[str, str]]:
    return [(code, spec.label) for code, spec in sorted(types().items())]


def get_type(code: str, field_name: str = "type") -> InterfaceTypeSpec:
    spec = types().get(code)
    if spec is None:
        raise InvalidInput("unknown interface type", field=field_name,
                           expected="one of " + ", ".join(sorted(types())) if types() else "a registered type",
                           found=code)
    return spec


def get_function(type_code: str, name: str, field_name: str = "function") -> FunctionSpec:
    spec = get_type(type_code)
    fn = spec.functions.get(name)
    if fn is None:
        raise InvalidInput(f"the interface type {type_code} has no function {name!r}", field=field_name,
                           expected="one of " + (", ".join(sorted(spec.functions)) or "(none yet)"),
                           found=name)
    return fn


def function_choices() -> list[tuple[str, str]]:
    out = []
    for _code, spec in sorted(types().items()):
        for name, fn in sorted(spec.functions.items()):
            out.append((name, f"{spec.label} — {fn.label}"))
    # the same function name may exist on two types (TIXNGO and TIXNGO_TEMPLATE)
    seen: dict[str, str] = {}
    for name, label in out:
        seen.setdefault(name, label)
    return sorted(seen.items())
