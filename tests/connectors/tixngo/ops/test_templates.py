"""Ticket templates (TIXNGO_TEMPLATE, seed 003): checked at save naming the field and the line,
rendered in a sandbox from plain variables, previewed against a real ticket, and applied by the
injection (what the sandbox received)."""

from __future__ import annotations

import json

import pytest

from passgate.connectors.tixngo.payload import Holder
from passgate.connectors.tixngo.templates import (
    VARIABLES,
    TicketTemplates,
    check_template,
    template_variables,
)
from passgate.errors import InvalidInput
from passgate.jobs import services
from passgate.jobs.runner import run_schedule

from .conftest import KEY, template_params


@pytest.mark.parametrize(("field", "source", "line", "words"), [
    ("sortingKey", "{{ order.file_number }}\n{{ tikcet.id }}", 2, "unknown variable 'tikcet'"),
    ("category", "{{ ticket.colour }}", 1, "ticket has no 'colour'"),
    ("additionalInfo", "ok\n{% if ticket.seat %}\n{{ ticket.seat }", 3, "line 3"),
    ("eventName", "{{ product.name }} for {{ holder.first_name }}", 1, "unknown variable 'holder'"),
    ("price", "{{ ticket.price }}", None, "cannot be templated"),
    ("sortingKey", "{{ ticket['nope'] }}", 1, "ticket has no 'nope'"),
])
def test_a_bad_template_is_refused_naming_its_field_and_line(field, source, line, words):
    with pytest.raises(InvalidInput) as refused:
        check_template(field, source)
    assert refused.value.field == f"templates.{field}"
    assert words in refused.value.message
    if line:
        assert f"line {line}" in refused.value.message


def test_loop_variables_and_filters_are_accepted():
    check_template("additionalInfo", "{% for w in ['a', 'b'] %}{{ w|upper }} {{ ticket.seat|default('-') }}\n"
                                     "{% endfor %}{% set n = ticket.id %}{{ n }}")


def test_the_sandbox_refuses_what_could_escape_it(catalogue, buyer):
    ticket = catalogue.sell_concert(1, buyer=buyer).tickets.get()
    templates = TicketTemplates({"category": "{{ ticket.barcode.__class__.__mro__ }}"})
    with pytest.raises(InvalidInput) as refused:
        templates.render("category", template_variables(ticket, Holder.of_contact(buyer)))
    assert refused.value.field == "templates.category"


def test_variables_are_plain_values_and_exactly_the_whitelist(catalogue, buyer):
    ticket = catalogue.sell_concert(1, buyer=buyer).tickets.get()
    variables = template_variables(ticket, Holder.of_contact(buyer))
    assert {k: tuple(v) for k, v in variables.items()} == VARIABLES
    for values in variables.values():
        assert all(isinstance(v, (str, int)) for v in values.values())
    # the organisation's zone (Europe/Paris), not UTC
    local = catalogue.performance.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert variables["performance"]["time"] == local.strftime("%H:%M")


def test_saving_an_interface_checks_its_templates_with_the_line_of_the_key(admin_actor, tix, printing):
    text = template_params({"sortingKey": "{{ ticket.id }}", "category": "{{ tarif.name }}"})
    with pytest.raises(InvalidInput) as refused:
        services.create_interface(admin_actor, type="TIXNGO_TEMPLATE", name="T", url=tix.url + "/organizer/tickets",
                                  secret=KEY, parameters_text=text)
    detail = refused.value.details[0]
    assert detail["path"] == "$.templates.category"
    assert detail["line"] == text.splitlines().index(next(x for x in text.splitlines() if '"category"' in x)) + 1
    assert "unknown variable 'tarif'" in detail["message"]


def test_injection_sends_the_rendered_fields(admin_actor, tix, template_interface, catalogue, buyer):
    order = catalogue.sell_concert(2, buyer=buyer)
    schedule = services.create_schedule(admin_actor, interface=template_interface,
                                        function="TIXNGO_TICKET_INJECTION", name="inject")
    execution = run_schedule(schedule.pk)
    assert execution.status == "OK", execution.error
    state = tix.state()["data"]
    perf = catalogue.performance.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    event = state["events"][f"PERF-{catalogue.performance.pk}"]
    assert event["name"] == f"Concert · {perf.date().isoformat()} {perf.strftime('%H:%M')}"
    for ticket in order.tickets.all():
        sent = state["tickets"][str(ticket.pk)]["sent"]
        assert sent["sortingKey"] == f"{order.file_number}/{ticket.pk:05d}"
        assert sent["additionalInfo"] == ["Seat free", "For Ada Lovelace"]
        assert sent["category"] == "Stalls"  # not templated: passgate's default


def test_a_ticket_a_template_cannot_render_is_skipped_with_the_reason(admin_actor, tix, printing, catalogue, buyer):
    interface = services.create_interface(
        admin_actor, type="TIXNGO_TEMPLATE", name="T", url=tix.url + "/organizer/tickets", secret=KEY,
        parameters_text=template_params({"sortingKey": "{{ ticket.id // (ticket.reprint_count) }}"}))
    ticket = catalogue.sell_concert(1, buyer=buyer).tickets.get()
    schedule = services.create_schedule(admin_actor, interface=interface, function="TIXNGO_TICKET_INJECTION",
                                        name="inject")
    execution = run_schedule(schedule.pk)
    item = execution.items.get()
    assert item.outcome == "SKIPPED" and "template sortingKey, line 1" in item.message
    assert str(ticket.pk) not in tix.state()["data"]["tickets"]


def test_preview_renders_against_a_real_ticket_through_the_api(api_client, template_interface, catalogue, buyer):
    order = catalogue.sell_concert(1, buyer=buyer)
    ticket = order.tickets.get()
    response = api_client.post("/api/v1/tixngo/templates/preview", json.dumps({"ticket_id": ticket.pk}),
                               content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rendered"]["sortingKey"] == f"{order.file_number}/{ticket.pk:05d}"
    assert body["ticket"]["additionalInfo"] == ["Seat free", "For Ada Lovelace"]
    # unsaved templates: previewed, and a bad one answers 400 naming the field and line
    response = api_client.post("/api/v1/tixngo/templates/preview", json.dumps(
        {"ticket_id": ticket.pk, "templates": {"category": "{{ buyer.last_name|upper }}"}}),
        content_type="application/json")
    assert response.json()["ticket"]["category"] == "LOVELACE"
    response = api_client.post("/api/v1/tixngo/templates/preview", json.dumps(
        {"ticket_id": ticket.pk, "templates": {"category": "x\n{{ buyer.age }}"}}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "templates.category" and "line 2" in response.json()["message"]


def test_preview_of_another_organisations_ticket_is_not_found(other_api_client, catalogue, buyer):
    ticket = catalogue.sell_concert(1, buyer=buyer).tickets.get()
    response = other_api_client.post("/api/v1/tixngo/templates/preview", json.dumps({"ticket_id": ticket.pk}),
                                     content_type="application/json")
    assert response.status_code == 404


