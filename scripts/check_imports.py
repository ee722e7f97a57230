#!/usr/bin/env python3
"""The room layout, checked: passgate's rooms must not import each other in
circles, and no core room may import a connector. CI runs this script.

Every import counts: module level, inside functions (a lazy import is still a
dependency) and under TYPE_CHECKING. A room is a first-level package of
`src/passgate` (orgs, catalog, sales, jobs, access, …) or a connector
(`connectors.<name>`); a top-level module (api, apikit, errors, …) is a node
of its own. Exit status 1 with one line per problem, 0 when the layout holds.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "passgate"
# Rooms that make up the core: they may never import a connector.
CORE = {"orgs", "catalog", "sales", "jobs", "access", "guest"}
# The composition root wires everything together (settings names the apps, urls the routers,
# the CLI and the demo start every room): it may import anything and nothing imports it.
COMPOSITION = {"settings", "urls", "wsgi", "cli", "demo", "supervisor"}


def node_of(module: str) -> str | None:
    """passgate.access.services.scans → 'access'; passgate.connectors.echo.x → 'connectors.echo'."""
    parts = module.split(".")
    if parts[0] != "passgate" or len(parts) < 2:
        return None
    if parts[1] == "connectors" and len(parts) > 2:
        return f"connectors.{parts[2]}"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from passgate.connectors import echo` imports the sub-package
            for alias in node.names:
                found.append((f"{target}.{alias.name}", node.lineno))
    return found


def main() -> int:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = node_of(module_name(path))
        for target, line in imports_of(path):
            dest = node_of(target)
            if dest is None or source is None or dest == source:
                continue
            where = f"{path.relative_to(ROOT.parent.parent)}:{line} imports {target}"
            if dest == "connectors":
                continue  # the connectors package itself holds only a docstring
            if source in CORE and dest.startswith("connectors."):
                problems.append(f"core room {source!r} imports a connector: {where}")
            entry_point = "commands" in path.parts  # a management command is a CLI entry point
            if dest in COMPOSITION and source not in COMPOSITION and not entry_point:
                problems.append(f"{source!r} imports the composition root {dest!r}: {where}")
            edges[(source, dest)].append(where)
    graph: dict[str, set[str]] = defaultdict(set)
    for (a, b) in edges:
        if a not in COMPOSITION:
            graph[a].add(b)
    # every cycle shows up as a strongly connected component of more than one node
    for component in _components(graph):
        if len(component) > 1:
            members = sorted(component)
            sample = [w for (a, b), ws in sorted(edges.items()) if a in component and b in component
                      for w in ws[:1]]
            problems.append("import cycle between " + " ⇄ ".join(members) + ":\n    " + "\n    ".join(sample))
    for p in problems:
        print(p)
    if not problems:
        rooms = sorted({n for edge in edges for n in edge})
        print(f"imports ok: {len(rooms)} rooms and modules, {len(edges)} dependencies, no cycle, "
              "no core room importing a connector")
    return 1 if problems else 0


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = [0]
    nodes = set(graph) | {b for targets in graph.values() for b in targets}

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            out.append(component)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
