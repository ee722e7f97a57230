"""The `passgate` command: Django's manage.py plus passgate's own commands
(demo, demo-data, worker, scheduler, run-schedule, sandbox, scan, door-sim…),
which live as management commands in each room."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passgate.settings")
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] == "manage":  # `passgate manage migrate` == `passgate migrate`
        argv.pop(1)
    if len(argv) > 1:
        argv[1] = argv[1].replace("-", "_") if not argv[1].startswith("-") else argv[1]
    if len(argv) == 1 or argv[1:] in (["help"], ["--help"], ["-h"]):
        import django

        django.setup()
        print(help_text())
        return
    from django.core.management import execute_from_command_line

    from passgate.errors import PassgateError

    try:
        execute_from_command_line(argv)
    except PassgateError as exc:
        # The same sentence the API and the admin show: field, what was expected, what was found.
        detail = "".join(f"; {k} {v}" for k, v in (("expected", exc.expected), ("found", exc.found)) if v is not None)
        print(f"passgate: error: {exc}{detail}", file=sys.stderr)
        raise SystemExit(2) from None


def help_text() -> str:
    """passgate's own commands first, by the names one types, one line each; Django's below."""
    from django.core.management import get_commands, load_command_class

    ours, django_s = [], []
    for name, app in sorted(get_commands().items()):
        if app.startswith("passgate"):
            command = load_command_class(app, name)
            first = (command.help or "").strip().split("\n")[0].split(". ")[0].rstrip(".")
            first = first if len(first) <= 90 else first[:89] + "…"
            ours.append(f"  {name.replace('_', '-'):<18} {first}")
        else:
            django_s.append(name)
    return "\n".join([
        "Usage: passgate COMMAND [options]   (passgate COMMAND --help for a command's options)",
        "", "passgate commands:", *ours,
        "", "Django commands (also as `passgate manage COMMAND`):",
        *(f"  {line}" for line in _columns(django_s)),
    ])


def _columns(names: list[str], per_line: int = 3) -> list[str]:
    return ["".join(f"{n:<28}" for n in names[i:i + per_line]).rstrip() for i in range(0, len(names), per_line)]


if __name__ == "__main__":
    main()
