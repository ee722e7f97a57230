from passgate.guest import demo, services
from passgate.guest.models import AccessMethod, GuestTicket


def test_demo_loads_once(org, admin_actor):
    demo.load_demo(org, admin_actor)
    demo.load_demo(org, admin_actor)
    assert sorted(AccessMethod.objects.values_list("format", flat=True)) == ["SINGLE", "SPECIAL", "VARIABLE"]
    in_use = services.tickets_with_usage(org).get(status="IN_USE")
    assert (in_use.connections, in_use.download) == (1, 240_000_000)
    assert GuestTicket.objects.count() == 7
