"""The CSV import of external sales (`passgate sales import-external FILE`; columns in
docs/external-sales.md). One row per order line; the rows sharing a channel and an order
number make one order. Each order is sold on its own (sales.external.sell_external, one
transaction): a bad order is reported by its line and column and the good ones are imported;
importing the same file again creates nothing (idempotent by order number)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from passgate.errors import InvalidInput, PassgateError
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor

from .external import external_sale_from_data, sell_external

COLUMNS = ("order_number", "channel", "buyer", "payment_mode", "season", "product", "performance", "tariff",
           "quantity", "barcodes")
REQUIRED_COLUMNS = ("order_number", "channel", "buyer", "product", "tariff")
# Columns that describe the order, not the line: every row of an order must agree on them.
ORDER_COLUMNS = ("buyer", "payment_mode")
_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(\w+)")


@dataclass
class LineError:
    line: int
    field: str
    message: str
    expected: Any = None
    found: Any = None

    def __str__(self) -> str:
        detail = "".join(f"; {k} {v}" for k, v in (("expected", self.expected), ("found", self.found))
                         if v not in (None, ""))
        return f"line {self.line}, {self.field}: {self.message}{detail}"


@dataclass
class ImportReport:
    orders: int = 0
    created: int = 0
    already: int = 0  # imported before (same order number, same content)
    tickets_created: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{self.orders} orders read: {self.created} created ({self.tickets_created} tickets), "
                f"{self.already} already imported, {len(self.errors)} refused")


Row = tuple[int, dict[str, str]]


def read_orders(lines: Iterable[str]) -> list[list[Row]]:
    """The rows of the file grouped by (channel, order number), in the order they first appear;
    each row with its line number in the file. A wrong header refuses the whole file."""
    lines = iter(lines)
    header = next(lines, "")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader([header], delimiter=delimiter)
    names = [n.strip().lower() for n in next(reader, [])]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise InvalidInput("the first line must name the columns", field="line 1",
                           expected="columns " + ", ".join(COLUMNS) + " (required: " + ", ".join(REQUIRED_COLUMNS)
                           + ")", found=", ".join(names) or "an empty line")
    groups: dict[tuple[str, str], list[Row]] = {}
    rows = csv.reader(lines, delimiter=delimiter)
    for values in rows:
        if not any(v.strip() for v in values):
            continue
        row = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(names)}
        groups.setdefault((row.get("channel", ""), row.get("order_number", "")), []).append(
            (rows.line_num + 1, row))
    return list(groups.values())


def _locate(exc: PassgateError, rows: list[Row]) -> tuple[int, str]:
    """The file line and column an error of the order is about."""
    match = _LINE_FIELD.match(exc.field or "")
    if match and int(match.group(1)) < len(rows):
        return rows[int(match.group(1))][0], match.group(2)
    return rows[0][0], exc.field or "order"


def _check_same_order(rows: list[Row]) -> None:
    first = rows[0][1]
    for i, (_line, row) in enumerate(rows[1:], start=1):
        for name in ORDER_COLUMNS:
            if row.get(name, "") != first.get(name, ""):
                raise InvalidInput(f"the rows of order {first.get('order_number')} disagree on {name}",
                                   field=f"lines[{i}].{name}", expected=first.get(name, ""),
                                   found=row.get(name, ""))


def import_external_sales(actor: Actor, lines: Iterable[str],
                          progress: Callable[[int], None] = lambda n: None) -> ImportReport:
    actor.require(Permission.SELL)
    report = ImportReport()
    for rows in read_orders(lines):
        report.orders += 1
        try:
            _check_same_order(rows)
            sale = external_sale_from_data(actor, rows[0][1], [row for _, row in rows])
            order, created = sell_external(actor, sale)
        except PassgateError as exc:
            line, column = _locate(exc, rows)
            report.errors.append(LineError(line, column, exc.message, exc.expected, exc.found))
        else:
            if created:
                report.created += 1
                report.tickets_created += order.tickets.count()
            else:
                report.already += 1
        progress(len(rows))
    return report
