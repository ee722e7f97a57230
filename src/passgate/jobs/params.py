"""Strict, helpful parsing of parameter documents typed by operators.

- A duplicate key is an error naming the key and its line (json.loads keeps
  the last value silently).
- `// line` and `/* block */` comments are accepted and dropped (never inside
  strings: the comment syntax is handled by the parser itself, between tokens).
- Every error names the JSON path, what was expected and what was found.
- The result is validated against a pydantic schema; its errors are reported
  the same way, with the line of the offending key when known.

The only exception this module raises is InvalidInput.
"""

from __future__ import annotations

import json
import math
import re
from json.decoder import scanstring
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from passgate.errors import InvalidInput

NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
MAX_DEPTH = 64
MAX_LENGTH = 1_000_000
Path = tuple[str | int, ...]


def json_path(path: Path) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"
    return out


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


class _Parser:
    def __init__(self, text: str, field: str) -> None:
        self.s = text
        self.i = 0
        self.field = field
        self.lines: dict[Path, int] = {}

    # -------------------------------------------------------------- helpers
    def line(self, pos: int | None = None) -> int:
        return self.s.count("\n", 0, self.i if pos is None else pos) + 1

    def column(self, pos: int | None = None) -> int:
        pos = self.i if pos is None else pos
        return pos - (self.s.rfind("\n", 0, pos) + 1) + 1

    def found_here(self) -> str:
        if self.i >= len(self.s):
            return "the end of the document"
        chunk = self.s[self.i:self.i + 12].split("\n")[0]
        return repr(chunk)

    def fail(self, message: str, path: Path, expected: str, found: str, pos: int | None = None) -> InvalidInput:
        where = f"line {self.line(pos)}, column {self.column(pos)}"
        full = f"{json_path(path)} ({where}): {message}"
        error = InvalidInput(full, field=self.field, expected=expected, found=found)
        error.details = [{"code": "invalid", "field": self.field, "path": json_path(path),
                          "line": self.line(pos), "message": full, "expected": expected, "found": found}]
        return error

    def skip(self, path: Path) -> None:
        """Whitespace and comments."""
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in " \t\r\n\ufeff":
                self.i += 1
            elif s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end + 1
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    raise self.fail("a /* comment is never closed", path, "*/ to close the comment",
                                    "the end of the document")
                self.i = end + 2
            else:
                return

    # -------------------------------------------------------------- grammar
    def document(self) -> Any:
        self.skip(())
        if self.i >= len(self.s):
            return {}
        value = self.value((), 0)
        self.skip(())
        if self.i < len(self.s):
            raise self.fail("unexpected text after the end of the document", (), "the end of the document",
                            self.found_here())
        return value

    def value(self, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail("the document is nested too deeply", path, f"at most {MAX_DEPTH} levels",
                            f"more than {MAX_DEPTH}")
        self.skip(path)
        if self.i >= len(self.s):
            raise self.fail("a value is missing", path, "a value", "the end of the document")
        c = self.s[self.i]
        if c == "{":
            return self.obj(path, depth)
        if c == "[":
            return self.arr(path, depth)
        if c == '"':
            return self.string(path)
        for literal, result in (("true", True), ("false", False), ("null", None)):
            if self.s.startswith(literal, self.i):
                self.i += len(literal)
                return result
        match = NUMBER_RE.match(self.s, self.i)
        if match and match.end() > self.i:
            self.i = match.end()
            text = match.group(0)
            if match.group(1) or match.group(2):
                number = float(text)
                if not math.isfinite(number):
                    raise self.fail("this number is too large", path, "a finite number", text, match.start())
                return number
            return int(text) if len(text) < 4000 else self.too_long(path, text, match.start())
        if c == "'":
            raise self.fail("strings take double quotes", path, 'a "double-quoted" string', self.found_here())
        raise self.fail("this is not a JSON value", path,
                        'an object, a list, a "string", a number, true, false or null', self.found_here())

    def too_long(self, path: Path, text: str, pos: int) -> Any:
        raise self.fail("this number has too many digits", path, "fewer than 4000 digits", text[:20] + "…", pos)

    def string(self, path: Path) -> str:
        start = self.i
        try:
            value, end = scanstring(self.s, self.i + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(f"invalid string ({exc.msg.lower()})", path, 'a "string" closed on the same line',
                            self.found_here(), start) from None
        self.i = end
        return value

    def obj(self, path: Path, depth: int) -> dict[str, Any]:
        self.i += 1
        out: dict[str, Any] = {}
        seen_line: dict[str, int] = {}
        self.skip(path)
        if self.i < len(self.s) and self.s[self.i] == "}":
            self.i += 1
            return out
        while True:
            self.skip(path)
            if self.i >= len(self.s) or self.s[self.i] != '"':
                if self.i < len(self.s) and self.s[self.i] == "}":
                    raise self.fail("a comma is followed by no key", path, 'a "key"', "}")
                raise self.fail("a key is expected here", path, 'a "double-quoted" key', self.found_here())
            key_pos = self.i
            key = self.string(path)
            key_line = self.line(key_pos)
            if key in seen_line:
                raise self.fail(
                    f'the key "{key}" appears twice (lines {seen_line[key]} and {key_line}); '
                    "keep only one", path + (key,), f'"{key}" once', f"a second \"{key}\" on line {key_line}",
                    key_pos)
            seen_line[key] = key_line
            self.lines[path + (key,)] = key_line
            self.skip(path)
            if self.i >= len(self.s) or self.s[self.i] != ":":
                raise self.fail(f'a ":" must follow the key "{key}"', path + (key,), '":"', self.found_here())
            self.i += 1
            out[key] = self.value(path + (key,), depth + 1)
            self.skip(path)
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < len(self.s) and self.s[self.i] == "}":
                self.i += 1
                return out
            raise self.fail("an object must continue with a comma or end with }", path, '"," or "}"',
                            self.found_here())

    def arr(self, path: Path, depth: int) -> list[Any]:
        self.i += 1
        out: list[Any] = []
        self.skip(path)
        if self.i < len(self.s) and self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            item_path = path + (len(out),)
            self.skip(item_path)
            if self.i < len(self.s) and self.s[self.i] == "]":
                raise self.fail("a comma is followed by no value", item_path, "a value", "]")
            self.lines[item_path] = self.line()
            out.append(self.value(item_path, depth + 1))
            self.skip(path)
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < len(self.s) and self.s[self.i] == "]":
                self.i += 1
                return out
            raise self.fail("a list must continue with a comma or end with ]", path, '"," or "]"',
                            self.found_here())


def parse_document(text: str | None, field: str = "parameters") -> tuple[Any, dict[Path, int]]:
    """The value of a JSON-with-comments document and the line of every key."""
    if text is None:
        return {}, {}
    if not isinstance(text, str):
        raise InvalidInput("parameters must be a text document", field=field, expected="JSON text",
                           found=type(text).__name__)
    if len(text) > MAX_LENGTH:
        raise InvalidInput("the parameters are too long", field=field, expected=f"at most {MAX_LENGTH} characters",
                           found=f"{len(text)} characters")
    parser = _Parser(text, field)
    try:
        value = parser.document()
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps us far from it
        raise InvalidInput("the document is nested too deeply", field=field, expected=f"at most {MAX_DEPTH} levels",
                           found="more") from None
    return value, parser.lines


def insert_keys(text: str | None, items: dict[str, Any], note: str) -> str:
    """Add top-level keys at the start of the document's object, keeping the
    operator's text (and comments) as typed. `text` must parse to an object."""
    text = text or ""
    parser = _Parser(text, "parameters")
    parser.skip(())
    lines = [f'  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}' for k, v in items.items()]
    if parser.i >= len(text):  # empty document
        return "{\n" + ",\n".join(lines) + f"  // {note}\n}}\n" + text
    start = parser.i + 1  # just after "{"
    parser.i = start
    parser.skip(())
    empty = parser.i < len(text) and text[parser.i] == "}"
    block = "\n" + ",\n".join(lines) + ("" if empty else ",") + f"  // {note}\n"
    return text[:start] + block + text[start:]


def _expected_of(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    mapping = {
        "missing": "a value (this key is required)",
        "extra_forbidden": "no such key (check its spelling)",
        "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
        "float_type": "a number", "bool_type": "true or false", "dict_type": "an object",
        "list_type": "a list", "model_type": "an object", "datetime_type": "a date-time such as 2026-01-31T08:00:00Z",
        "datetime_parsing": "a date-time such as 2026-01-31T08:00:00Z", "date_parsing": "a date such as 2026-01-31",
    }
    if kind == "literal_error":
        return "one of " + str(ctx.get("expected", ""))
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        return error.get("msg", "").replace("Input should be ", "")
    if kind in {"string_too_short", "string_too_long", "too_short", "too_long"}:
        return error.get("msg", "").replace("String should have ", "").replace("List should have ", "")
    return mapping.get(kind, error.get("msg", "a valid value"))


def validation_error(exc: PydanticValidationError, lines: dict[Path, int], field: str,
                     prefix: Path = ()) -> InvalidInput:
    details = []
    for err in exc.errors(include_url=False):
        loc: Path = prefix + tuple(err.get("loc", ()))
        path = json_path(loc)
        line = None
        probe = loc
        while probe and line is None:
            line = lines.get(probe)
            probe = probe[:-1]
        expected = _expected_of(err)
        found = "nothing" if err.get("type") == "missing" else _describe(err.get("input"))
        where = f" (line {line})" if line else ""
        message = f"{path}{where}: expected {expected}, found {found}"
        details.append({"code": "required" if err.get("type") == "missing" else "invalid", "field": field,
                        "path": path, "line": line, "message": message, "expected": expected, "found": found})
    first = details[0]
    error = InvalidInput(first["message"], field=field, expected=first["expected"], found=first["found"])
    error.details = details
    return error


def validate(value: Any, schema: type[BaseModel], lines: dict[Path, int] | None = None,
             field: str = "parameters") -> BaseModel:
    if not isinstance(value, dict):
        raise InvalidInput(f"$: expected an object {{...}}, found {_describe(value)}", field=field,
                           expected="an object { ... }", found=_describe(value))
    try:
        # JSON mode + strict: "5" is not an integer, 1 is not true; dates come as ISO text.
        return schema.model_validate_json(json.dumps(value), strict=True)
    except PydanticValidationError as exc:
        raise validation_error(exc, lines or {}, field) from None


def parse_parameters(text: str | None, schema: type[BaseModel], field: str = "parameters") -> tuple[dict, BaseModel]:
    """Text typed by an operator → (plain JSON dict, validated model)."""
    value, lines = parse_document(text, field)
    model = validate(value, schema, lines, field)
    return value, model
