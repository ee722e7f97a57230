"""Demo data of the TIXnGO connector: the organisation's TIXnGO interface (type TIXNGO_TEMPLATE, so
the ticket templates can be tried) on the TIXnGO sandbox that `passgate demo` starts, the wallet's
printing point of sale, and one schedule per function. Idempotent.

Schedules: all five enabled, every 5 minutes at their default batch sizes (the seed recommends
1,000 tickets every 5 minutes for injection); injection is filtered to the symphony so that the
other products show what "NOT_PRINTED, not selected" looks like."""

from __future__ import annotations

import json

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, PointOfSale, SalesChannel
from passgate.jobs import services
from passgate.jobs.models import Interface, Schedule
from passgate.orgs.services import Actor

DEMO_INTERFACE = "TIXnGO sandbox"
DEMO_TIXNGO_KEY = "tixngo-key"  # the TIXnGO sandbox's default key
CHANNEL, POINT_OF_SALE = "TIXNGO", "TIXNGO-PRINT"
SAMPLE_TEMPLATES = {
    "eventName": "{{ product.name }}{% if performance.name %} — {{ performance.name }}{% endif %}",
    "sortingKey": "{{ performance.date }}-{{ order.file_number }}-{{ ticket.id }}",
    "additionalInfo": "{{ ticket.tariff }}{% if ticket.seat %} · seat {{ ticket.seat }}{% endif %}\n"
                      "Doors: {{ performance.time }} · {{ performance.venue_site }}",
}
SCHEDULES = [  # (function, name, enabled, parameters)
    ("TIXNGO_TICKET_INJECTION", "Inject tickets into TIXnGO", True, '{\n  "products": ["SYMPHONY"]\n}'),
    ("TIXNGO_FEEDBACK", "Retrieve ticket status from TIXnGO", True, ""),
    ("TIXNGO_PUSH_CANCELLED", "Push cancelled and invalidated tickets", True, ""),
    ("TIXNGO_PUSH_CONTROLLED", "Push controlled tickets", True, ""),
    ("TIXNGO_PRIVILEGES", "Inject digital privileges", True, ""),
]


def _printing_point_of_sale(actor: Actor) -> PointOfSale:
    org = actor.organisation
    channel = SalesChannel.objects.filter(organisation=org, code=CHANNEL).first() or catalog.create(
        actor, SalesChannel, code=CHANNEL, name="TIXnGO wallet", type=ChannelType.EXTERNAL_PRINTING)
    return PointOfSale.objects.filter(organisation=org, code=POINT_OF_SALE).first() or catalog.create(
        actor, PointOfSale, channel=channel, code=POINT_OF_SALE, name="TIXnGO external printing")


def load_demo(organisation, actor: Actor) -> None:
    from sandboxes.registry import DEMO_SANDBOXES

    interface = Interface.objects.filter(organisation=organisation, type__in=["TIXNGO", "TIXNGO_TEMPLATE"]).first()
    if interface is None:
        _printing_point_of_sale(actor)
        parameters = {"salesChannel": CHANNEL, "pointOfSale": POINT_OF_SALE, "ticketIterationSize": 250,
                      "templates": SAMPLE_TEMPLATES}
        interface = services.create_interface(
            actor, type="TIXNGO_TEMPLATE", name=DEMO_INTERFACE,
            url=f"http://127.0.0.1:{DEMO_SANDBOXES.get('tixngo', 8103)}/organizer/tickets",
            username="organiser@demo.passgate.local", secret=DEMO_TIXNGO_KEY,
            parameters_text="// ticketIterationSize: tickets per call; templates: see docs/tixngo.md\n"
                            + json.dumps(parameters, indent=2, ensure_ascii=False),
            notify_emails="ops@demo.passgate.local")
    for function, name, enabled, parameters_text in SCHEDULES:
        if not Schedule.objects.filter(interface=interface, function=function).exists():
            services.create_schedule(actor, interface=interface, function=function, name=name, enabled=enabled,
                                     frequency_minutes=5, parameters_text=parameters_text)
