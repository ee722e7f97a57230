"""An operator, in a real browser, sets up an Otipass interface the way seed 001 describes it:
pastes the example parameters with their // comments and the URL Otipass gave (…/api/toulouse),
sees the project id split out of the URL, saves again with a blank password and keeps it, and
fixes a sector code typed twice from the error shown (which names the key and its line)."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model

from passgate.access.models import Sector
from passgate.jobs import services
from passgate.jobs.models import Interface
from passgate.orgs.models import Membership, Role
from tests.otipass.test_config_traps import SEED_EXAMPLE
from tests.otipass_world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The seed's copy-paste slip: the third block copied from the second, its code left unchanged.
DUPLICATED = SEED_EXAMPLE.replace('"DMM_DUP":{', '"DDMM_MSR":{')


def save(page) -> None:
    with page.expect_navigation():
        page.click("input[name=_continue]")


def test_operator_pastes_the_seed_example_and_fixes_a_duplicated_sector(live_server, page, org, sandbox,
                                                                         screenshot_dir):
    build_world(org)
    otipass = sandbox("otipass")
    user = get_user_model().objects.create_user("operator", password="s3cret-pass", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/jobs/interface/add/")
    if page.locator("select#id_organisation").count():
        page.select_option("#id_organisation", str(org.pk))
    page.select_option("#id_type", "OTIPASS")
    page.fill("#id_name", "Otipass Toulouse")
    page.fill("#id_url", f"{otipass.url}/api/toulouse")
    page.fill("#id_username", "stx-toulouse")
    page.fill("#id_secret", "the-otipass-api-key")
    page.fill("#id_parameters_text", SEED_EXAMPLE)
    save(page)
    assert "was added successfully" in page.inner_text("ul.messagelist")
    interface = Interface.objects.get(type="OTIPASS")
    # the project id is split out of the URL: the URL ends at /api, the project is understood
    assert page.input_value("#id_url") == f"{otipass.url}/api"
    assert '"OtipassProjectId": "toulouse"' in page.inner_text("div.field-normalised_parameters")
    assert "stored (hidden)" in page.inner_text("div.field-secret_state")
    assert "//Provided by Otipass" in page.input_value("#id_parameters_text")  # the comments are kept as typed

    # a second save with the password left blank keeps it (the old screen removed it)
    assert page.input_value("#id_secret") == ""
    page.fill("#id_name", "Otipass (Toulouse)")
    save(page)
    assert "was changed successfully" in page.inner_text("ul.messagelist")
    interface.refresh_from_db()
    assert interface.name == "Otipass (Toulouse)"
    assert services.interface_secret(interface) == "the-otipass-api-key"

    # a sector code typed twice: the error names the key and its line, nothing is saved
    page.fill("#id_parameters_text", DUPLICATED)
    save(page)
    errors = page.inner_text("ul.errorlist")
    assert '"DDMM_MSR" appears twice (lines 12 and 18)' in errors and "$.sectorInfos.DDMM_MSR (line 18" in errors
    page.screenshot(path=os.path.join(screenshot_dir, "otipass-duplicate-sector.png"), full_page=True)
    interface.refresh_from_db()
    assert set(interface.parameters["sectorInfos"]) == {"DDMM_AUG", "DDMM_MSR", "DMM_DUP"}

    # the operator fixes line 18 and saves: accepted, the password still kept, every sector served
    text = page.input_value("#id_parameters_text").split("\n")
    text[17] = text[17].replace('"DDMM_MSR"', '"DMM_DUP"')
    page.fill("#id_parameters_text", "\n".join(text))
    save(page)
    assert "was changed successfully" in page.inner_text("ul.messagelist")
    interface.refresh_from_db()
    assert services.interface_secret(interface) == "the-otipass-api-key"
    assert set(Sector.objects.filter(interface=interface).values_list("code", flat=True)) == \
        {"DDMM_AUG", "DDMM_MSR", "DMM_DUP"}
    assert "readiness-done" in page.content()
