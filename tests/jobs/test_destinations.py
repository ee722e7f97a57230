"""Partner calls and "test connection" never reach into the internal network:
an interface URL resolving to loopback, private, link-local or the cloud
metadata address is refused before any connection is opened, unless the
network is listed in PASSGATE_PARTNER_ALLOWED_NETWORKS. Outside production
loopback stays open (the sandboxes listen there)."""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest
from django.test import override_settings

from passgate.connectors.echo.connector import EchoClient
from passgate.jobs import services
from passgate.jobs.partner_http import DestinationRefused, PartnerClient, RetryPolicy, check_destination

KEY = "echo-key-for-the-guard"
EXPECTED = "a public partner address (or one listed in PASSGATE_PARTNER_ALLOWED_NETWORKS)"

production = override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=[])


@pytest.fixture
def listener():
    """Loopback TCP listeners on 127.0.0.1 and ::1 that only count connections made to them."""
    servers = {family: socket.create_server((host, 0), family=family)
               for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))}
    for server in servers.values():
        server.setblocking(False)

    class Listener:
        port4 = servers[socket.AF_INET].getsockname()[1]
        port6 = servers[socket.AF_INET6].getsockname()[1]

        @staticmethod
        def connections() -> int:
            count = 0
            for server in servers.values():
                while True:
                    try:
                        conn, _ = server.accept()
                    except BlockingIOError:
                        break
                    conn.close()
                    count += 1
            return count

    yield Listener
    for server in servers.values():
        server.close()


def client_for(url: str) -> PartnerClient:
    return PartnerClient(url, connect_timeout=1, read_timeout=1, retry=RetryPolicy(max_attempts=1))


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "loopback"), ("[::1]", "loopback"), ("10.0.0.1", "private"),
    ("169.254.169.254", "cloud metadata"), ("192.168.1.20", "private"), ("[fd12::1]", "private"),
    ("[fe80::1]", "link-local"), ("0.0.0.0", "unspecified"), ("[::ffff:127.0.0.1]", "loopback"),
])
def test_production_refuses_internal_addresses_before_connecting(listener, host, kind):
    port = listener.port6 if host.startswith("[") else listener.port4
    with production, client_for(f"http://{host}:{port}/api") as client:
        with pytest.raises(DestinationRefused) as refused:
            client.get("/ping")
    address = host.strip("[]")
    if address.startswith("::ffff:"):
        address = address.removeprefix("::ffff:")
    assert refused.value.field == "url"
    assert refused.value.expected == EXPECTED
    assert refused.value.found == f"{address} ({kind})"
    assert refused.value.status is None
    assert listener.connections() == 0


def test_a_client_given_its_own_transport_is_checked_per_request(listener):
    # A caller's transport (or a configured proxy) bypasses the guarded connections:
    # the partner's host is then checked before each request instead.
    client = PartnerClient(f"http://127.0.0.1:{listener.port4}", transport=httpx.HTTPTransport(),
                           retry=RetryPolicy(max_attempts=1), connect_timeout=1, read_timeout=1)
    with production, client, pytest.raises(DestinationRefused) as refused:
        client.get("/ping")
    assert refused.value.found == "127.0.0.1 (loopback)"
    assert listener.connections() == 0


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to(listener):
    with production, client_for(f"http://localhost:{listener.port4}") as client:
        with pytest.raises(DestinationRefused) as refused:
            client.get("/")
    assert refused.value.found in {"127.0.0.1 (loopback)", "::1 (loopback)"}
    assert "localhost →" in refused.value.message
    assert listener.connections() == 0


def test_the_allow_list_opens_listed_networks_only(echo_sandbox):
    echo_sandbox.seed(api_key=KEY)
    with override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"]):
        with EchoClient(echo_sandbox.url, KEY) as client:
            assert client.ping() == {"ok": True, "partner": "echo"}
        with pytest.raises(DestinationRefused):
            check_destination("http://10.0.0.1/api")
    with override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        assert check_destination("http://10.1.2.3/api") == [ipaddress.ip_address("10.1.2.3")]
        with pytest.raises(DestinationRefused):
            check_destination("http://192.168.0.1/api")
        with pytest.raises(DestinationRefused):
            check_destination(echo_sandbox.url)
    assert [r["path"] for r in echo_sandbox.requests("/ping")] == ["/ping"]


def test_development_calls_loopback_but_never_link_local_or_private(echo_sandbox):
    echo_sandbox.seed(api_key=KEY)
    with override_settings(PRODUCTION=False, PARTNER_ALLOWED_NETWORKS=[]):
        with EchoClient(echo_sandbox.url, KEY) as client:
            assert client.ping()["ok"] is True
        for url, found in [("http://169.254.169.254/latest/meta-data", "169.254.169.254 (cloud metadata)"),
                           ("http://[fe80::1]/", "fe80::1 (link-local)"),
                           ("http://10.0.0.1/", "10.0.0.1 (private)")]:
            with pytest.raises(DestinationRefused) as refused:
                check_destination(url)
            assert refused.value.found == found
    with override_settings(PRODUCTION=False, PARTNER_ALLOWED_NETWORKS=["169.254.169.254/32"]):
        assert check_destination("http://169.254.169.254/") == [ipaddress.ip_address("169.254.169.254")]


def test_a_public_address_is_allowed_without_any_list():
    with production:
        assert check_destination("https://93.184.215.14/api") == [ipaddress.ip_address("93.184.215.14")]
        assert check_destination("https://[2606:4700::1111]/") == [ipaddress.ip_address("2606:4700::1111")]


@pytest.fixture
def rebinding_dns(monkeypatch):
    """A DNS server under the test's control for one name, `partner.example`
    (the system resolver answers every other name)."""
    answers: dict[str, str | list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "partner.example":
            answer = answers["partner.example"]
            if isinstance(answer, list):  # one answer per lookup, the last one repeated
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
            return real(answer, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_each_new_connection_is_checked_again_dns_rebinding(echo_sandbox, rebinding_dns):
    echo_sandbox.seed(api_key=KEY)
    port = echo_sandbox.url.rsplit(":", 1)[1]
    rebinding_dns["partner.example"] = "127.0.0.1"
    with override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=["127.0.0.1/32"]), \
            EchoClient(f"http://partner.example:{port}", KEY,
                       retry=RetryPolicy(max_attempts=1)) as client:
        # Allowed, and connected to the very address checked: the sandbox answers.
        assert client.get("/ping", headers={"Connection": "close"}).json()["ok"] is True
        # The name now points at the metadata service: the next connection is refused.
        rebinding_dns["partner.example"] = "169.254.169.254"
        with pytest.raises(DestinationRefused) as refused:
            client.get("/ping")
    assert refused.value.found == "169.254.169.254 (cloud metadata)"
    assert "partner.example → 169.254.169.254" in refused.value.message
    assert len(echo_sandbox.requests("/ping")) == 1


def test_the_connection_goes_to_the_address_that_was_checked(echo_sandbox, rebinding_dns):
    # The first lookup answers the listed sandbox, every later one an unlisted private
    # address: a guard that checked one lookup and connected after another would go there.
    echo_sandbox.seed(api_key=KEY)
    port = echo_sandbox.url.rsplit(":", 1)[1]
    rebinding_dns["partner.example"] = ["127.0.0.1", "10.0.0.1"]
    with override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=["127.0.0.1/32"]), \
            EchoClient(f"http://partner.example:{port}", KEY, connect_timeout=1,
                       retry=RetryPolicy(max_attempts=1)) as client:
        assert client.ping()["ok"] is True
    assert len(echo_sandbox.requests("/ping")) == 1


# ---------------------------------------------------------------- test connection

@pytest.fixture
def echo_interface(admin_actor, echo_sandbox):
    echo_sandbox.seed(api_key=KEY)
    return services.create_interface(admin_actor, type="ECHO", name="Echo", url=echo_sandbox.url, secret=KEY)


def test_test_connection_refuses_an_internal_url_in_production(admin_actor, echo_sandbox, echo_interface):
    with production, pytest.raises(DestinationRefused) as refused:
        services.test_connection(admin_actor, echo_interface)
    assert (refused.value.field, refused.value.expected, refused.value.found) == (
        "url", EXPECTED, "127.0.0.1 (loopback)")
    assert echo_sandbox.requests() == []


def test_test_connection_refuses_the_metadata_address_for_a_type_without_its_own_test(admin_actor):
    interface = services.create_interface(admin_actor, type="TIXNGO", name="Wallet",
                                          url="http://169.254.169.254/latest/organizer/tickets", secret="k")
    with override_settings(PRODUCTION=False), pytest.raises(DestinationRefused) as refused:
        services.test_connection(admin_actor, interface)
    assert refused.value.found == "169.254.169.254 (cloud metadata)"


def test_test_connection_through_the_api_names_the_field(admin_actor, api_client, echo_sandbox, echo_interface):
    with production:
        response = api_client.post(f"/api/v1/interfaces/{echo_interface.pk}/test")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"], body["expected"], body["found"]) == (
        "destination_refused", "url", EXPECTED, "127.0.0.1 (loopback)")
    assert echo_sandbox.requests() == []


def test_test_connection_works_with_the_allow_list(admin_actor, echo_sandbox, echo_interface):
    with override_settings(PRODUCTION=True, PARTNER_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        report = services.test_connection(admin_actor, echo_interface)
    assert report.ok, report
    assert [r["path"] for r in echo_sandbox.requests()] == ["/ping"]
