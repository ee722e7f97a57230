"""Demo data of the jobs room: an ECHO interface on the echo sandbox that
`passgate demo` starts (sandboxes.registry.DEMO_SANDBOXES), and a schedule of
its ECHO_TICKETS function every 5 minutes. Idempotent."""

from __future__ import annotations

from passgate.orgs.services import Actor

from . import services
from .models import Interface

DEMO_INTERFACE = "Echo sandbox"
DEMO_ECHO_KEY = "echo-key"  # the echo sandbox's default key


def load_demo(organisation, actor: Actor) -> None:
    from sandboxes.registry import DEMO_SANDBOXES

    services.ensure_builtin_schedules(organisation)
    if Interface.objects.filter(organisation=organisation, name=DEMO_INTERFACE).exists():
        return
    port = DEMO_SANDBOXES.get("echo", 8101)
    interface = services.create_interface(
        actor, type="ECHO", name=DEMO_INTERFACE, url=f"http://127.0.0.1:{port}", username="demo",
        secret=DEMO_ECHO_KEY, parameters_text='// the echo partner takes no parameters\n{"greeting": "hello"}',
        notify_emails="ops@demo.passgate.local")
    services.create_schedule(
        actor, interface=interface, function="ECHO_TICKETS", name="Echo new tickets", frequency_minutes=5,
        batch_size=1000, parameters_text='{\n  // send by chunks of 200 tickets\n  "chunk_size": 200\n}')
