"""The setup assistant (idempotent: run twice, one of everything; what the operator changed is
kept) and the readiness checklist (each seed step DONE, MISSING or WRONG, turning green)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from passgate.catalog import services as catalog
from passgate.catalog.models import ChannelType, Contingent, Family, Product, SalesChannel, Season, Tariff
from passgate.connectors.otipass.readiness import readiness
from passgate.connectors.otipass.setup import SectorService, setup_otipass
from passgate.jobs import services as jobs
from passgate.jobs.models import Interface
from passgate.sales import services as sales
from passgate.sales.models import Contact, PaymentMode

SECTORS = [SectorService("DDMM_AUG", "pcumid031fs00061"), SectorService("DDMM_MSR", "PCUMID031FS00071")]


def run(actor, **changes):
    args = dict(url="https://otipass.example/api/toulouse", username="stx", secret="the-key", sectors=SECTORS,
                season_code="DDMM23", product_code="OTIPASS", tariff_code="OTIPASS", quota=500)
    args.update(changes)
    return setup_otipass(actor, **args)


def counts(org):
    return {"season": Season.objects.filter(organisation=org).count(),
            "product": Product.objects.filter(organisation=org, code="OTIPASS").count(),
            "tariff": Tariff.objects.filter(organisation=org, product__code="OTIPASS").count(),
            "channel": SalesChannel.objects.filter(organisation=org, code="OTIPASS").count(),
            "contingent": Contingent.objects.filter(organisation=org).count(),
            "contact": Contact.objects.filter(organisation=org, number="OTIPASS").count(),
            "interface": Interface.objects.filter(organisation=org, type="OTIPASS").count()}


def statuses(interface):
    return {c.step: c.status for c in readiness(interface)}


def test_run_twice_leaves_one_of_everything_and_all_green(admin_actor, otipass_world):
    org = admin_actor.organisation
    first = run(admin_actor)
    assert counts(org) == {"season": 1, "product": 1, "tariff": 1, "channel": 1, "contingent": 1, "contact": 1,
                           "interface": 1}
    interface = first.interface
    assert interface.url == "https://otipass.example/api" and interface.parameters["OtipassProjectId"] == "toulouse"
    assert interface.parameters["sectorInfos"]["DDMM_AUG"]["OtipassPSpaceId"] == "PROVIDER#PCUMID031FS00061"
    assert jobs.interface_secret(interface) == "the-key"
    channel = SalesChannel.objects.get(organisation=org, code="OTIPASS")
    assert channel.type == ChannelType.EXTERNAL_STX_FILE
    assert Product.objects.get(organisation=org, code="OTIPASS").family == Family.OPEN_PASS
    assert Contact.objects.get(organisation=org, number="OTIPASS").payment_modes == [PaymentMode.PENDING_ACCOUNT]
    assert Contingent.objects.get(organisation=org).quota == 500
    assert all(c.ok for c in readiness(interface)), [c for c in readiness(interface) if not c.ok]

    second = run(admin_actor, secret="")
    assert counts(org) == counts(org) and counts(org)["interface"] == 1 and counts(org)["contingent"] == 1
    assert not second.changed, second.steps
    assert second.interface.pk == interface.pk and jobs.interface_secret(second.interface) == "the-key"


def test_what_the_operator_changed_knowingly_is_kept_and_the_seed_rules_are_repaired(admin_actor, otipass_world):
    org = admin_actor.organisation
    interface = run(admin_actor).interface
    contingent = Contingent.objects.get(organisation=org)
    catalog.update(admin_actor, contingent, quota=42)
    contact = Contact.objects.get(organisation=org, number="OTIPASS")
    sales.update_contact(admin_actor, contact, payment_modes=[PaymentMode.CARD])  # pending account removed
    channel = SalesChannel.objects.get(organisation=org, code="OTIPASS")
    catalog.update(admin_actor, channel, type=ChannelType.INTERNAL, name="Otipass city pass")
    text = interface.parameters_text.replace('"NumType": "numeric"', '"NumType": "serial", "doorTimeoutSeconds": 3')
    jobs.update_interface(admin_actor, interface, parameters_text=text)
    assert statuses(interface)[2] == "WRONG" and statuses(interface)[4] == "WRONG"

    again = run(admin_actor, secret="", sectors=[SectorService("DDMM_AUG", "pcumid031fs00061")])
    assert "repaired sales channel OTIPASS: type INTERNAL → EXTERNAL_STX_FILE" in again.steps
    assert "repaired contact OTIPASS: pending account allowed" in again.steps
    channel.refresh_from_db()
    contingent.refresh_from_db()
    contact.refresh_from_db()
    interface.refresh_from_db()
    assert channel.type == ChannelType.EXTERNAL_STX_FILE and channel.name == "Otipass city pass"
    assert contingent.quota == 42
    assert contact.payment_modes == [PaymentMode.CARD, PaymentMode.PENDING_ACCOUNT]
    assert interface.parameters["NumType"] == "serial" and interface.parameters["doorTimeoutSeconds"] == 3
    assert set(interface.parameters["sectorInfos"]) == {"DDMM_AUG", "DDMM_MSR"}  # the other sector kept
    assert all(c.ok for c in readiness(interface))


def test_a_product_code_of_another_family_is_refused_not_taken_over(admin_actor, otipass_world):
    catalog.create(admin_actor, Product, season=otipass_world.season, code="OTIPASS", name="Gala", family=Family.EVENT)
    with pytest.raises(Exception) as err:
        run(admin_actor)
    assert getattr(err.value, "field", None) == "product_code" and "OTIPASS (EVENT)" in str(err.value.found)
    assert not SalesChannel.objects.filter(code="OTIPASS").exists()  # nothing half-written


def test_the_checklist_turns_green_step_by_step(admin_actor, otipass_world):
    org = admin_actor.organisation
    text = ('{"sectorInfos": {"DDMM_AUG": {"OtipassServiceId": "S1", "OtipassPSpaceId": "PROVIDER#S1",'
            ' "seasonCode": "DDMM23", "productCode": "PASSTOU"}}}')
    interface = jobs.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api/tls",
                                      parameters_text=text)
    first = {c.step: c for c in readiness(interface)}
    # step 7: PASSTOU has one tariff, which its entries are then sold at: no mapping needed yet
    assert [first[s].status for s in range(1, 8)] == ["DONE", "MISSING", "MISSING", "MISSING", "MISSING",
                                                      "MISSING", "DONE"]
    assert "Sales channels" in first[2].fix and "exactly OTIPASS" in first[2].fix
    assert "no user name" in first[5].detail and "no password (API key)" in first[5].detail

    channel = catalog.create(admin_actor, SalesChannel, code="OTIPASS", name="Otipass", type=ChannelType.INTERNAL)
    assert statuses(interface)[2] == "WRONG"
    catalog.update(admin_actor, channel, type=ChannelType.EXTERNAL_STX_FILE)
    assert statuses(interface)[2] == "DONE" and statuses(interface)[3] == "MISSING"

    contingent = catalog.create(admin_actor, Contingent, code="OTI", name="Otipass", channel=channel,
                                product=otipass_world.product, quota=0)
    now = {c.step: c for c in readiness(interface)}
    assert now[3].status == "DONE" and now[6].status == "MISSING"
    assert "contingent OTI exists but has no quota" in now[6].detail and "Set a quota" in now[6].fix
    catalog.update(admin_actor, contingent, quota=10)
    assert statuses(interface)[6] == "DONE"

    contact = sales.create_contact(admin_actor, number="OTIPASS", last_name="Otipass")
    assert statuses(interface)[4] == "WRONG"
    sales.update_contact(admin_actor, contact, payment_modes=[PaymentMode.PENDING_ACCOUNT])
    assert statuses(interface)[4] == "DONE"

    jobs.update_interface(admin_actor, interface, username="stx", secret="k")
    assert statuses(interface)[5] == "DONE"

    assert statuses(interface)[7] == "DONE"
    catalog.create(admin_actor, Tariff, product=otipass_world.product, code="CHILD", name="Child", price=Decimal("5"))
    assert "no tariff is mapped for PASSTOU" in readiness(interface)[6].detail
    jobs.update_interface(admin_actor, interface, parameters_text=interface.parameters_text[:-1]
                          + ', "tariffMapping": {"PASSTOU": "ADULT"}}')
    assert statuses(interface) == {s: "DONE" for s in range(1, 8)}

    # a sector without an enrolled device is not ready
    otipass_world.devices["DDMM_AUG"].door.devices.update(status="REVOKED")
    assert "sector DDMM_AUG has no enrolled device" in readiness(interface)[6].detail
    assert Interface.objects.filter(organisation=org).count() >= 1


def test_readiness_api_and_another_organisations_token(api_client, other_api_client, admin_actor, otipass_world):
    interface = run(admin_actor).interface
    body = api_client.get(f"/api/v1/otipass/interfaces/{interface.pk}/readiness").json()
    assert body["ready"] is True and [c["step"] for c in body["checks"]] == list(range(1, 8))
    Contingent.objects.filter(organisation=admin_actor.organisation).update(quota=0)
    body = api_client.get(f"/api/v1/otipass/interfaces/{interface.pk}/readiness").json()
    assert body["ready"] is False and body["checks"][5]["status"] == "MISSING" and body["checks"][5]["fix"]
    assert other_api_client.get(f"/api/v1/otipass/interfaces/{interface.pk}/readiness").status_code == 404


def test_admin_page_shows_the_checklist_and_the_repair_action(admin_client, admin_actor, otipass_world):
    interface = run(admin_actor).interface
    SalesChannel.objects.filter(code="OTIPASS").update(type=ChannelType.INTERNAL)
    page = admin_client.get(reverse("admin:jobs_interface_change", args=[interface.pk])).content.decode()
    assert 'class="readiness-wrong"' in page and "Set its type to External sales" in page
    assert "the-key" not in page
    response = admin_client.post(reverse("admin:jobs_interface_changelist"),
                                 {"action": "set_up_or_repair", "_selected_action": [interface.pk]}, follow=True)
    assert "repaired sales channel OTIPASS" in response.content.decode()
    assert SalesChannel.objects.get(code="OTIPASS").type == ChannelType.EXTERNAL_STX_FILE
    page = admin_client.get(reverse("admin:jobs_interface_change", args=[interface.pk])).content.decode()
    assert "readiness-wrong" not in page and "readiness-missing" not in page and page.count("readiness-done") == 7
    assert jobs.interface_secret(Interface.objects.get(pk=interface.pk)) == "the-key"


def test_cli_setup_twice_with_the_key_from_the_environment(org, otipass_world, monkeypatch, capsys):
    monkeypatch.setenv("OTIPASS_API_KEY", "env-key-123")
    argv = ["otipass", "setup", "--org", org.code, "--url", "https://o.example/api/toulouse", "--user", "stx",
            "--sector", "DDMM_AUG=PCUMID031FS00061", "--sector", "DDMM_MSR=PCUMID031FS00071=PROVIDER#X71",
            "--season", "DDMM23", "--product", "PASSTOU", "--tariff", "ADULT", "--price", "12.50"]
    call_command(*argv)
    out = capsys.readouterr().out
    assert "created sales channel OTIPASS" in out and "env-key-123" not in out
    assert "7. [DONE]" in out
    call_command(*argv)
    out = capsys.readouterr().out
    assert "created" not in out and "repaired" not in out
    interface = Interface.objects.get(organisation=org, type="OTIPASS")
    assert jobs.interface_secret(interface) == "env-key-123"
    assert interface.parameters["sectorInfos"]["DDMM_MSR"]["OtipassPSpaceId"] == "PROVIDER#X71"
    assert interface.parameters["tariffMapping"] == {"PASSTOU": "ADULT"}
    assert Tariff.objects.get(product=otipass_world.product, code="ADULT").price == Decimal("0")  # existing kept
