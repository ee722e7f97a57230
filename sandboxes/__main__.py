"""python -m sandboxes NAME --port N [--state-file PATH] (also `passgate sandbox`)."""

from __future__ import annotations

import argparse

from .framework import serve
from .registry import create_sandbox_app, names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sandbox", description="Run a partner sandbox on 127.0.0.1.")
    parser.add_argument("name", choices=names())
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", default=None, help="keep the partner data in this JSON file")
    parser.add_argument("--demo", action="store_true", help="start with the sandbox's demo data, if it has any")
    args = parser.parse_args(argv)
    serve(create_sandbox_app(args.name, state_file=args.state_file, demo=args.demo), args.port)


if __name__ == "__main__":
    main()
