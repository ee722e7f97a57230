from passgate.guest import demo, services
from passgate.guest.models import AccessMethod, GuestTicket


def test_demo_loads_once(org, admin_actor):
    demo.load_demo(org, admin_actor)
    demo.load_demo(org, admin_actor)
    assert sorted(AccessMethod.objects.values_list("format", flat=True)) == ["SINGLE", "SINGLE", "SPECIAL",
                                                                                "VARIABLE"]
    lobby = AccessMethod.objects.get(code="SPONSORED").location  # the sponsored access of #12
    assert lobby.sponsor_method.code == "SPONSORED" and lobby.sponsors_allowed == "@hotel.example"
    in_use = services.tickets_with_usage(org).get(status="IN_USE")
    assert (in_use.connections, in_use.download) == (1, 240_000_000)
    assert GuestTicket.objects.count() == 7
