"""The TIXnGO demo data: an interface on the demo sandbox with sample templates, one schedule per
function, loaded twice without duplicates."""

from __future__ import annotations

from passgate.connectors.tixngo import demo
from passgate.connectors.tixngo.functions import FUNCTIONS
from passgate.jobs.models import Interface, Schedule


def test_demo_is_idempotent_and_points_at_the_demo_sandbox(org, admin_actor, catalogue):
    demo.load_demo(org, admin_actor)
    demo.load_demo(org, admin_actor)
    interface = Interface.objects.get(organisation=org, type="TIXNGO_TEMPLATE")
    assert interface.url == "http://127.0.0.1:8103/organizer/tickets" and interface.has_secret
    assert set(interface.parameters["templates"]) == set(demo.SAMPLE_TEMPLATES)
    schedules = Schedule.objects.filter(interface=interface)
    assert sorted(schedules.values_list("function", flat=True)) == sorted(f.name for f in FUNCTIONS)
    assert all(s.enabled and s.frequency_minutes == 5 for s in schedules)
