"""Ticket templates (interface type TIXNGO_TEMPLATE, seed 003's "TIXnGO with ticket template"): the
operator decides how some of the fields sent to TIXnGO are built from the ticket, its performance,
its holder and its order.

Templates live in the interface's parameters (`templates`: sent field → Jinja2 text), not in a table
of their own: they belong to the one TIXnGO interface of the organisation, are saved, validated,
audited and versioned with the rest of its configuration, and the injection reads them with it.

Rendering is Jinja2's SandboxedEnvironment with StrictUndefined, fed only plain dicts built by
`template_variables` (no ORM object reaches a template). At save, each template is parsed and every
variable it reads is checked against the whitelist `VARIABLES`: an unknown name or key, or a syntax
error, is refused naming the field and the template's line.
"""

from __future__ import annotations

import sys
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from passgate.errors import InvalidInput
from passgate.orgs.timezones import zone_of
from passgate.sales.models import Contact, Ticket

from .interface import TixngoParams

# The whitelist: each variable a template may read, and its keys.
VARIABLES: dict[str, tuple[str, ...]] = {
    "organisation": ("code", "name"),
    "product": ("code", "name", "family"),
    "performance": ("code", "name", "date", "time", "starts_at", "ends_at", "venue_site", "venue_city",
                    "venue_zip", "venue_country_code"),
    "ticket": ("id", "barcode", "price", "currency", "seat", "category", "category_code", "tariff",
               "tariff_code", "reprint_count"),
    "holder": ("first_name", "last_name", "email", "country_code"),
    "buyer": ("number", "first_name", "last_name", "email"),
    "order": ("file_number", "date", "total", "currency"),
}
# The fields an operator may template. The event is sent once for all its tickets, so its name may
# only read what is the same for all of them.
FIELDS: dict[str, str] = {
    "eventName": "the event's name (sent once per event)",
    "category": "the category shown on the ticket",
    "sortingKey": "the key the wallet sorts tickets by (at most 64 characters)",
    "additionalInfo": "extra lines shown on the ticket, one per line",
}
EVENT_FIELDS = {"eventName"}
SENT_AS = {"eventName": "name"}  # the key in the event body
EVENT_VARIABLES = {"organisation", "product", "performance"}
MAX_TEMPLATE_LENGTH = 2000

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _allowed(field: str) -> set[str]:
    return EVENT_VARIABLES if field in EVENT_FIELDS else set(VARIABLES)


def _local_names(ast: nodes.Template) -> set[str]:
    """Names the template binds itself ({% for x in … %}, {% set x = … %}, macro arguments)."""
    bound = set()
    for node in ast.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            bound.add(node.name)
    return bound


def check_template(field: str, source: str) -> None:
    """InvalidInput naming the field and the template's line when `source` cannot be rendered here."""
    name = f"templates.{field}"
    if field not in FIELDS:
        raise InvalidInput(f"{field!r} cannot be templated", field=name,
                           expected="one of " + ", ".join(FIELDS), found=field)
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise InvalidInput(f"template {field} is too long", field=name,
                           expected=f"at most {MAX_TEMPLATE_LENGTH} characters", found=f"{len(source)} characters")
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"template {field}, line {exc.lineno}: {exc.message}", field=name,
                           expected="a Jinja2 template", found=f"line {exc.lineno}: {exc.message}") from None
    allowed, local = _allowed(field), _local_names(ast)
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in allowed and node.name not in local:
            raise InvalidInput(f"template {field}, line {node.lineno}: unknown variable {node.name!r}", field=name,
                               expected="one of " + ", ".join(sorted(allowed)),
                               found=f"line {node.lineno}: {node.name}")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in VARIABLES or target.name in local:
            continue
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            continue  # a computed key: StrictUndefined refuses an unknown one at render
        if key not in VARIABLES[target.name]:
            raise InvalidInput(f"template {field}, line {node.lineno}: {target.name} has no {key!r}", field=name,
                               expected=f"one of {target.name}." + f", {target.name}.".join(VARIABLES[target.name]),
                               found=f"line {node.lineno}: {target.name}.{key}")


def check_templates(templates: dict[str, str]) -> None:
    for field, source in templates.items():
        check_template(field, source)


class Templates(BaseModel):
    """One optional template per field an operator may template; an unknown field is refused."""

    model_config = ConfigDict(extra="forbid")

    eventName: str | None = None
    category: str | None = None
    sortingKey: str | None = None
    additionalInfo: str | None = None

    @field_validator("*")
    @classmethod
    def _valid(cls, source: str | None, info: ValidationInfo) -> str | None:
        if source is not None:
            try:
                check_template(info.field_name, source)
            except InvalidInput as exc:
                raise PydanticCustomError("template", "a valid template ({reason})", {"reason": exc.message}) from None
        return source


class TixngoTemplateParams(TixngoParams):
    """TIXNGO_TEMPLATE: the TIXNGO parameters plus `templates` (sent field → template)."""

    templates: Templates = Field(default_factory=Templates)


def templates_dict(templates: Any) -> dict[str, str]:
    """field → template, from parameters as stored (a dict) or as validated (Templates)."""
    if isinstance(templates, BaseModel):
        templates = templates.model_dump()
    return {field: source for field, source in (templates or {}).items() if source is not None}


def _local(value, org) -> Any:
    return value.astimezone(zone_of(org)) if value else None


def _person(contact: Contact | None, keys: tuple[str, ...]) -> dict[str, str]:
    return {key: str(getattr(contact, key, "") or "") for key in keys}


def template_variables(ticket: Ticket, holder: Any) -> dict[str, dict[str, Any]]:
    """The only values a template sees, as plain dicts (`holder`: payload.Holder, who the ticket goes to).
    Dates and times are in the organisation's zone."""
    org, order, product, perf = ticket.organisation, ticket.order, ticket.product, ticket.performance
    starts, ends = (_local(perf.starts_at, org), _local(perf.ends_at, org)) if perf else (None, None)
    ordered = _local(order.created_at, org)
    return {
        "organisation": {"code": org.code, "name": org.name},
        "product": {"code": product.code, "name": product.name, "family": product.family},
        "performance": {
            "code": perf.code if perf else "", "name": perf.name if perf else "",
            "date": starts.date().isoformat() if starts else "", "time": starts.strftime("%H:%M") if starts else "",
            "starts_at": starts.isoformat() if starts else "", "ends_at": ends.isoformat() if ends else "",
            "venue_site": perf.venue_site if perf else "", "venue_city": perf.venue_city if perf else "",
            "venue_zip": perf.venue_zip if perf else "",
            "venue_country_code": perf.venue_country_code if perf else ""},
        "ticket": {
            "id": ticket.pk, "barcode": ticket.barcode, "price": str(ticket.price), "currency": ticket.currency,
            "seat": ticket.seat, "category": ticket.category.name if ticket.category_id else "",
            "category_code": ticket.category.code if ticket.category_id else "",
            "tariff": ticket.tariff.name, "tariff_code": ticket.tariff.code, "reprint_count": ticket.reprint_count},
        "holder": {"first_name": holder.first_name, "last_name": holder.last_name, "email": holder.email,
                   "country_code": holder.country_code},
        "buyer": _person(order.buyer, VARIABLES["buyer"]),
        "order": {"file_number": order.file_number, "date": ordered.date().isoformat() if ordered else "",
                  "total": str(order.total), "currency": order.currency},
    }


class TicketTemplates:
    """An interface's templates, compiled once per run and rendered for each ticket."""

    def __init__(self, templates: Any) -> None:
        templates = templates_dict(templates)
        check_templates(templates)
        self.sources = dict(templates)
        self._compiled = {field: _env.from_string(source) for field, source in templates.items()}

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def render(self, field: str, variables: dict[str, Any]) -> str | None:
        """The rendered text, stripped; None when the field has no template. InvalidInput naming the
        field and line when rendering fails (a value the template cannot handle)."""
        template = self._compiled.get(field)
        if template is None:
            return None
        if field in EVENT_FIELDS:
            variables = {k: v for k, v in variables.items() if k in EVENT_VARIABLES}
        try:
            return template.render(variables).strip()
        except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            line = _template_line(sys.exc_info()[2])
            where = f", line {line}" if line else ""
            raise InvalidInput(f"template {field}{where}: {exc}", field=f"templates.{field}",
                               expected="a template that renders for this ticket", found=str(exc)) from None

    def apply(self, body: dict[str, Any], variables: dict[str, Any], fields: set[str] | None = None) -> dict[str, Any]:
        """`body` with each templated field (of `fields`, default all) replaced by its rendering; a
        rendering that is empty keeps passgate's default value. `additionalInfo` becomes a list of lines."""
        for field in self._compiled:
            if fields is not None and field not in fields:
                continue
            text = self.render(field, variables)
            if not text:
                continue
            body[SENT_AS.get(field, field)] = [line.strip() for line in text.splitlines() if line.strip()] \
                if field == "additionalInfo" else text
        return body


def _template_line(tb) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
