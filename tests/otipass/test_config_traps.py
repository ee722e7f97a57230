"""Seed 001's traps at save: each is an error naming the key, its line, what was expected and
what was found; the same through the services, the admin form, the API and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.access.models import Sector
from passgate.catalog import services as catalog
from passgate.catalog.models import Family, Product, Tariff
from passgate.errors import Conflict, InvalidInput
from passgate.jobs import services
from passgate.jobs.models import Interface

SEED_EXAMPLE = """{

   "OtipassProjectId":"toulouse", //The project id of Otipass. It is generally the last part of the url that they provide.
   "NumType":"serial", //define this value if the pass codes start with letters
   "sectorInfos":{
      "DDMM_AUG":{ //This is the sector code as defined in TNAC configuration.
         "OtipassServiceId":"pcumid031fs00061", //Provided by Otipass
         "OtipassPSpaceId":"PROVIDER#PCUMID031FS00061", //Provided by Otipass
         "seasonCode":"DDMM23", //Those are the season and product codes on which the sales will be processed.
         "productCode":"PASSTOU"
      },
      "DDMM_MSR":{
         "OtipassServiceId":"PCUMID031FS00071",
         "OtipassPSpaceId":"PROVIDER#PCUMID031FS00071",
         "seasonCode":"DDMM23",
         "productCode":"PASSTOU"
      },
      "DMM_DUP":{
         "OtipassServiceId":"PCUMID031FS0006E",
         "OtipassPSpaceId":"PROVIDER#PCUMID031FS0006E",
         "seasonCode":"DDMM23",
         "productCode":"PASSTOU"
      }
   }
}"""


@pytest.fixture
def concert(admin_actor, otipass_world):
    """An EVENT product of the same season, with a tariff of its own (the wrong targets)."""
    product = catalog.create(admin_actor, Product, season=otipass_world.season, code="CONCERT23", name="Concert",
                             family=Family.EVENT)
    catalog.create(admin_actor, Tariff, product=product, code="CHILD", name="Child", price=Decimal("5"))
    return product


def test_the_seed_example_with_its_comments_saves_and_links_its_sectors(admin_actor, otipass_world):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api",
                                          username="stx", secret="k", parameters_text=SEED_EXAMPLE)
    assert set(interface.parameters["sectorInfos"]) == {"DDMM_AUG", "DDMM_MSR", "DMM_DUP"}
    assert set(Sector.objects.filter(interface=interface).values_list("code", flat=True)) == \
        {"DDMM_AUG", "DDMM_MSR", "DMM_DUP"}
    # the door's budget: 1.5 s unless set, and only within 0.2–10 s
    assert services.registry.get_type("OTIPASS").params_schema.model_validate(interface.parameters) \
        .doorTimeoutSeconds == 1.5
    for bad, expected in (("0.1", "greater than or equal to 0.2"), ("11", "less than or equal to 10")):
        with pytest.raises(InvalidInput) as err:
            services.update_interface(admin_actor, interface, parameters_text=SEED_EXAMPLE.replace(
                '"NumType":"serial",', f'"NumType":"serial", "doorTimeoutSeconds": {bad},'))
        assert "$.doorTimeoutSeconds (line 4)" in err.value.message and expected in err.value.expected


def test_unmapped_sectors_are_unlinked_and_one_sector_has_one_interface(admin_actor, otipass_world):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api",
                                          parameters_text=SEED_EXAMPLE)
    without_dup = json.loads(services.registry.get_type("OTIPASS").params_schema.model_validate(
        interface.parameters).model_dump_json())
    del without_dup["sectorInfos"]["DMM_DUP"]
    services.update_interface(admin_actor, interface, parameters_text=json.dumps(without_dup, indent=1))
    assert Sector.objects.get(code="DMM_DUP").interface is None
    assert Sector.objects.get(code="DDMM_AUG").interface == interface
    with pytest.raises(InvalidInput) as err:
        services.create_interface(admin_actor, type="OTIPASS", name="Second", url="https://o.example/api/lille",
                                  parameters_text=SEED_EXAMPLE.replace('"OtipassProjectId":"toulouse",', ""))
    messages = [d["message"] for d in err.value.details]
    assert any("DDMM_AUG (line 6)" in m and "served by another interface" in m and "found served by Otipass" in m
               for m in messages), messages
    assert not any("DMM_DUP" in m for m in messages)  # unlinked: free for the second interface
    assert Interface.objects.filter(type="OTIPASS").count() == 1


# ---------------------------------------------------------------- planted traps (hypothesis)

SERVICE = st.from_regex(r"PCUMID0[0-9]{2}FS[0-9A-F]{5}", fullmatch=True)
COMMENT = st.sampled_from(["", " // provided by Otipass", " /* from the e-mail */", " // é ünïcode"])
TRAPS = ["duplicate_sector", "unknown_sector", "unknown_season", "unknown_product", "not_open_pass",
         "bad_pspace", "tariff_of_other_product", "tariff_none", "timeout"]


@st.composite
def planted(draw, trap: str):
    """A mapping written line by line with `trap` planted; returns (text, trap, line, path part, bad value).
    The line is counted here, from the lines written, not asked of the parser."""
    sectors = draw(st.lists(st.sampled_from(["DDMM_AUG", "DDMM_MSR", "DMM_DUP"]), min_size=1, max_size=3,
                            unique=True))
    victim = draw(st.integers(0, len(sectors) - 1))
    out: list[str] = ["{" + draw(COMMENT)]
    for _ in range(draw(st.integers(0, 2))):
        out.append(draw(st.sampled_from(["  // a comment line", "", "  /* a block */"])))
    out.append('  "NumType": "serial",' + draw(COMMENT))
    plant = {}

    def mark(text, path, value):
        out.append(text)
        plant.update(line=len(out), path=path, value=value)

    if trap == "timeout":
        bad = draw(st.sampled_from([0, 0.1, 10.5, 99]))
        mark(f'  "doorTimeoutSeconds": {bad},', "doorTimeoutSeconds", str(bad))
    out.append('  "sectorInfos": {')
    blocks = list(sectors) + ([sectors[victim]] if trap == "duplicate_sector" else [])
    for index, code in enumerate(blocks):
        is_victim = index == victim
        shown = "ZZ_NOWHERE" if trap == "unknown_sector" and is_victim else code
        service = draw(SERVICE)
        if index == len(sectors):  # the second "code" of a duplicate
            mark(f'    "{shown}": {{' + draw(COMMENT), shown, shown)
        elif is_victim and trap == "unknown_sector":
            mark(f'    "{shown}": {{' + draw(COMMENT), shown, shown)
        else:
            out.append(f'    "{shown}": {{' + draw(COMMENT))
        out.append(f'      "OtipassServiceId": "{service}",')
        pspace = f"PROVIDER#{service}"
        if is_victim and trap == "bad_pspace":
            pspace = draw(st.sampled_from([service, f"provider#{service}", f"PROVIDER {service}", "PROVIDER#"]))
            mark(f'      "OtipassPSpaceId": "{pspace}",', "OtipassPSpaceId", pspace)
        else:
            out.append(f'      "OtipassPSpaceId": "{pspace}",')
        season = "ZZ99" if is_victim and trap == "unknown_season" else "DDMM23"
        if season == "ZZ99":
            mark(f'      "seasonCode": "{season}",', "seasonCode", season)
        else:
            out.append(f'      "seasonCode": "{season}",' + draw(COMMENT))
        product = {"unknown_product": "NOPE", "not_open_pass": "CONCERT23"}.get(trap, "PASSTOU") \
            if is_victim else "PASSTOU"
        if product != "PASSTOU":
            mark(f'      "productCode": "{product}"', "productCode", product)
        else:
            out.append(f'      "productCode": "{product}"')
        out.append("    }" + ("," if index < len(blocks) - 1 else ""))
    out.append("  },")
    tariff = {"tariff_of_other_product": ("PASSTOU", "CHILD"), "tariff_none": ("PASSTOU", "NO_SUCH")}.get(trap)
    out.append('  "tariffMapping": {')
    if tariff:
        mark(f'    "{tariff[0]}": "{tariff[1]}"', tariff[0], tariff[1])
    else:
        out.append('    "PASSTOU": "ADULT"')
    out.append("  }")
    out.append("}")
    return "\n".join(out), trap, plant["line"], plant["path"], plant["value"]


@pytest.mark.parametrize("trap", TRAPS)
def test_every_planted_trap_gives_its_precise_error(admin_actor, otipass_world, concert, trap):
    @settings(max_examples=6, deadline=None, database=None)
    @given(case=planted(trap))
    def check(case):
        assert_precise_error(admin_actor, case)

    check()


def assert_precise_error(admin_actor, case):
    text, trap, line, path_part, bad = case
    with pytest.raises(InvalidInput) as err:
        services.prepare_interface("OTIPASS", "https://otipass.example/api/toulouse", text, admin_actor.organisation)
    error = err.value
    assert error.field == "parameters"
    details = error.details
    assert details, (trap, error.message)
    first = details[0]
    assert first["line"] == line, (trap, line, first, text)
    assert path_part in first["path"], (trap, first)
    assert bad in first["found"], (trap, first)
    assert first["expected"] and f"line {line}" in first["message"]
    assert not Interface.objects.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["sectorInfos", "tariffMapping", "NumType", "DDMM_AUG", "seasonCode", "productCode",
                         "OtipassPSpaceId", "OtipassServiceId", "doorTimeoutSeconds", "x"]), children, max_size=4),
    max_leaves=12).map(json.dumps))
def test_the_parser_and_the_checks_never_crash(admin_actor, otipass_world, text):
    try:
        services.prepare_interface("OTIPASS", "https://otipass.example/api/toulouse", text, admin_actor.organisation)
    except InvalidInput as exc:
        assert exc.field in {"parameters", "url"} and exc.message


# ---------------------------------------------------------------- the same traps through admin, API and CLI

def test_admin_form_names_an_unknown_sector_with_its_line(admin_client, org, otipass_world):
    text = SEED_EXAMPLE.replace('"DDMM_MSR":{', '"DDMM_MRS":{')
    response = admin_client.post(reverse("admin:jobs_interface_add"), {
        "organisation": org.pk, "type": "OTIPASS", "name": "Oti", "url": "https://o.example/api", "secret": "k",
        "parameters_text": text, "enabled": "on"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "$.sectorInfos.DDMM_MRS (line 12)" in page and "no sector has the code" in page
    assert not Interface.objects.exists()


def test_api_names_a_product_that_is_not_an_open_pass(api_client, otipass_world, concert):
    text = SEED_EXAMPLE.replace('"productCode":"PASSTOU"\n      },\n      "DDMM_MSR"',
                                '"productCode":"CONCERT23"\n      },\n      "DDMM_MSR"')
    response = api_client.post("/api/v1/interfaces", {"type": "OTIPASS", "name": "Oti", "url": "https://o.example/api",
                                                      "parameters_text": text}, content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == "parameters" and "$.sectorInfos.DDMM_AUG.productCode (line 10)" in body["message"]
    assert body["expected"] == "an OPEN_PASS product" and body["found"] == "CONCERT23 (EVENT)"


def test_api_names_a_tariff_of_another_product(api_client, otipass_world, concert):
    text = SEED_EXAMPLE[:-2] + ',\n   "tariffMapping": {"PASSTOU": "CHILD"}\n}'
    body = api_client.post("/api/v1/interfaces", {"type": "OTIPASS", "name": "Oti", "url": "https://o.example/api",
                                                  "parameters_text": text}, content_type="application/json").json()
    assert "$.tariffMapping.PASSTOU (line 25)" in body["message"]
    assert body["found"] == '"CHILD", a tariff of CONCERT23' and "ADULT" in body["expected"]


def test_cli_setup_names_an_unknown_sector(org, otipass_world, tmp_path):
    key = tmp_path / "key"
    key.write_text("secret-key\n")
    with pytest.raises(CommandError) as err:
        call_command("otipass", "setup", "--org", org.code, "--url", "https://o.example/api/toulouse",
                     "--user", "stx", "--key-file", str(key), "--sector", "DDMM_AUG=PCUMID031FS00061",
                     "--sector", "NOWHERE=PCUMID031FS00071", "--season", "DDMM23", "--product", "PASSTOU")
    assert '$.sectorInfos.NOWHERE' in str(err.value) and 'found "NOWHERE"' in str(err.value)
    assert "secret-key" not in str(err.value)
    assert not Interface.objects.filter(type="OTIPASS").exists()


def test_a_sector_of_another_organisation_is_unknown_here(admin_actor, other_org, otipass_world):
    from tests.otipass_world import build_world

    build_world(other_org, with_devices=False)
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api",
                                          parameters_text=SEED_EXAMPLE)
    # the other organisation's sectors of the same codes stay untouched
    assert not Sector.objects.filter(organisation=other_org, interface__isnull=False).exists()
    assert Sector.objects.filter(organisation=admin_actor.organisation, interface=interface).count() == 3


def test_conflict_is_not_raised_for_the_interface_itself(admin_actor, otipass_world):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api",
                                          parameters_text=SEED_EXAMPLE)
    try:
        services.update_interface(admin_actor, interface, name="Otipass Toulouse")
    except Conflict as exc:  # pragma: no cover - the assertion below says what went wrong
        pytest.fail(str(exc))
    assert Sector.objects.filter(interface=interface).count() == 3


def test_an_interface_serving_sectors_is_not_deleted_until_its_mapping_is_emptied(api_client, admin_actor,
                                                                                 otipass_world):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass", url="https://o.example/api",
                                          parameters_text=SEED_EXAMPLE)
    response = api_client.delete(f"/api/v1/interfaces/{interface.pk}")
    assert response.status_code == 409 and "DDMM_AUG, DDMM_MSR, DMM_DUP" in response.json()["found"]
    services.update_interface(admin_actor, interface, parameters_text='{"OtipassProjectId": "toulouse"}')
    assert not Sector.objects.filter(interface__isnull=False).exists()
    assert api_client.delete(f"/api/v1/interfaces/{interface.pk}").status_code == 204
