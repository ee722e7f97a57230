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
    from django.core.management import execute_from_command_line

    from passgate.errors import PassgateError

    try:
        execute_from_command_line(argv)
    except PassgateError as exc:
        # The same sentence the API and the admin show: field, what was expected, what was found.
        detail = "".join(f"; {k} {v}" for k, v in (("expected", exc.expected), ("found", exc.found)) if v is not None)
        print(f"passgate: error: {exc}{detail}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
