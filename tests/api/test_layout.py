"""The API's modules import in one direction: urls → api → routers → apikit.
A router (or apikit) that imports passgate.api closes a cycle that works only by
the accident of import order."""

from __future__ import annotations

import ast
from pathlib import Path

import passgate

SRC = Path(passgate.__file__).parent


def _imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_urls_imports_the_ninja_api():
    importers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                       if p.name != "api.py" or p.parent != SRC
                       if "passgate.api" in _imports_of(p))
    assert importers == ["urls.py"]


def test_apikit_imports_neither_the_api_nor_a_router():
    imported = _imports_of(SRC / "apikit.py")
    assert not {name for name in imported if name == "passgate.api" or name.endswith(".api")}


def test_pagination_lives_in_apikit():
    from passgate import apikit

    assert {"encode_cursor", "decode_cursor", "paginate", "MAX_PAGE"} <= set(vars(apikit))
    assert apikit.decode_cursor(apikit.encode_cursor(42)) == 42
