from urllib.parse import urlsplit

from passgate.guest import demo, services
from passgate.guest.models import AccessMethod, GuestTicket


def test_demo_loads_once(org, admin_actor):
    demo.load_demo(org, admin_actor)
    demo.load_demo(org, admin_actor)
    assert sorted(AccessMethod.objects.values_list("code", flat=True)) == ["DAY", "EVENT", "SMS2H", "SPONSORED",
                                                                          "STAY"]
    lobby = AccessMethod.objects.get(code="SPONSORED").location  # the sponsored access of #12
    assert lobby.sponsor_method.code == "SPONSORED" and lobby.sponsors_allowed == "@hotel.example"
    in_use = services.tickets_with_usage(org).get(status="IN_USE")
    assert (in_use.connections, in_use.download) == (1, 240_000_000)
    assert GuestTicket.objects.count() == 7


def test_demo_lobby_has_its_portal(org, admin_actor, client):
    demo.load_demo(org, admin_actor)
    lobby = services.Location.objects.get(code="LOBBY")
    assert (lobby.languages, lobby.sms_method.code) == ("en,fr", "SMS2H")
    assert "FR" in lobby.sms_country_list() and "GB" in lobby.sms_country_list()
    path = urlsplit(lobby.portal_url).path
    assert path == f"/portal/{org.code}/LOBBY/login/"
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200 and b"Connexion" in page.content
    [line] = demo.demo_lines(org, "http://127.0.0.1:8000")
    assert f"http://127.0.0.1:8000/portal/{org.code}/LOBBY/" in line


def test_demo_texts_through_the_sms_sandbox(monkeypatch):
    from passgate.orgs.management.commands.demo import demo_env

    monkeypatch.delenv("PASSGATE_SMS_BACKEND", raising=False)
    assert demo_env() == {"PASSGATE_SMS_BACKEND": "http", "PASSGATE_SMS_URL": "http://127.0.0.1:8104"}
    monkeypatch.setenv("PASSGATE_SMS_BACKEND", "console")
    assert demo_env() == {}
