"""Which sandboxes exist, and which ones the demo starts (name → default port).

A later connector adds its sandbox here: one line in SANDBOXES (name →
"module:factory") and, if the demo should run it, one in DEMO_SANDBOXES."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

SANDBOXES: dict[str, str] = {
    "echo": "sandboxes.echo.app:create_app",
    "otipass": "sandboxes.otipass.app:create_app",
    "tixngo": "sandboxes.tixngo.app:create_app",
    "sms": "sandboxes.sms.app:create_app",
    "hotspot": "sandboxes.hotspot.app:create_app",
    "pms": "sandboxes.pms.app:create_app",
    "paypal": "sandboxes.paypal.app:create_app",
}

# `passgate demo` starts each of these: `passgate sandbox NAME --port PORT`.
DEMO_SANDBOXES: dict[str, int] = {
    "echo": 8101,
    "otipass": 8102,
    "tixngo": 8103,
    "sms": 8104,
    "hotspot": 8107,
    "pms": 8106,  # HTTP control; FIAS itself on 8116 (sandboxes.pms.app.DEFAULT_FIAS_PORT)
    "paypal": 8105,
}


def names() -> list[str]:
    return sorted(SANDBOXES)


def create_sandbox_app(name: str, *, demo: bool = False, **options: Any):
    """The sandbox's app; `demo` asks for its demo data (a sandbox whose factory has none ignores it)."""
    try:
        target = SANDBOXES[name]
    except KeyError:
        raise KeyError(f"unknown sandbox {name!r}; known: {', '.join(names())}") from None
    module, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    if demo and "demo" in inspect.signature(factory).parameters:
        options["demo"] = True
    return factory(**options)


def demo_commands(passgate: str = "passgate") -> list[list[str]]:
    """The commands `passgate demo` runs for the sandboxes."""
    return [[passgate, "sandbox", name, "--port", str(port), "--demo"] for name, port in DEMO_SANDBOXES.items()]
