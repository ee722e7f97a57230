"""Interfaces: URL rules, one-per-organisation constraints, write-only
encrypted secrets (through the services, the admin form and the API), tenancy."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from passgate.errors import Conflict, InvalidInput
from passgate.jobs import secrets, services
from passgate.jobs.models import Interface
from passgate.orgs.models import Membership, Role
from tests.otipass_world import build_world

from .conftest import ECHO_KEY

OTIPASS_PARAMS = """{
  "NumType": "serial", // pass codes start with letters
  "sectorInfos": {"DDMM_AUG": {"OtipassServiceId": "pcumid031fs00061",
     "OtipassPSpaceId": "PROVIDER#PCUMID031FS00061", "seasonCode": "DDMM23", "productCode": "PASSTOU"}}
}"""


@pytest.fixture(autouse=True)
def _otipass_mapping_exists(request):
    """OTIPASS_PARAMS names seed 001's sector, season and product: they exist in the test organisation."""
    if "org" in request.fixturenames:
        build_world(request.getfixturevalue("org"))


def stored_secret_column(interface) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM jobs_interface WHERE id = %s", [interface.pk])
        return cursor.fetchone()[0]


# ---------------------------------------------------------------- URL rules and constraints

def test_otipass_url_is_split_into_base_and_project(admin_actor):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Otipass",
                                          url="https://otipass.example/api/toulouse/", username="stx",
                                          secret="api-key", parameters_text=OTIPASS_PARAMS)
    assert interface.url == "https://otipass.example/api"
    assert interface.parameters["OtipassProjectId"] == "toulouse"
    assert "// pass codes" in interface.parameters_text  # what the operator typed is kept


@pytest.mark.parametrize("url, message", [
    ("https://otipass.example/v2/toulouse", "must contain /api"),
    ("https://otipass.example/api/toulouse/extra", "only the project id"),
    ("otipass.example/api/toulouse", "absolute"),
    ("https://user:pw@otipass.example/api/t", "own fields"),
])
def test_otipass_urls_that_cannot_be_right_are_refused(admin_actor, url, message):
    with pytest.raises(InvalidInput) as exc:
        services.create_interface(admin_actor, type="OTIPASS", name="O", url=url, parameters_text=OTIPASS_PARAMS)
    assert exc.value.field == "url" and message in exc.value.message and exc.value.expected
    assert "pw" not in str(exc.value.found)


def test_otipass_project_in_url_and_parameters_must_agree(admin_actor):
    with pytest.raises(InvalidInput) as exc:
        services.create_interface(admin_actor, type="OTIPASS", name="O", url="https://o.example/api/toulouse",
                                  parameters_text='{"OtipassProjectId": "paris"}')
    assert "differ" in exc.value.message


def test_tixngo_url_must_end_with_organizer_tickets(admin_actor):
    with pytest.raises(InvalidInput) as exc:
        services.create_interface(admin_actor, type="TIXNGO", name="T", url="https://api.tixngo.example/v1/events")
    assert exc.value.field == "url" and "organizer/tickets" in exc.value.expected
    ok = services.create_interface(admin_actor, type="TIXNGO", name="T",
                                   url="https://api.tixngo.example/v1/organizer/tickets/")
    assert ok.url == "https://api.tixngo.example/v1/organizer/tickets"


def test_one_tixngo_interface_per_organisation(admin_actor, other_org):
    from passgate.orgs.services import Actor

    url = "https://api.tixngo.example/organizer/tickets"
    services.create_interface(admin_actor, type="TIXNGO", name="Wallet", url=url)
    with pytest.raises(Conflict) as exc:
        services.create_interface(admin_actor, type="TIXNGO_TEMPLATE", name="Wallet 2", url=url)
    assert exc.value.field == "type" and "only one" in exc.value.message
    # another organisation may have its own
    services.create_interface(Actor.system(other_org), type="TIXNGO", name="Wallet", url=url)
    # and the database itself refuses a second one, whatever the code path
    first = Interface.objects.get(organisation=admin_actor.organisation)
    with pytest.raises(IntegrityError), transaction.atomic():
        Interface.objects.create(organisation=first.organisation, type="TIXNGO", name="Sneaky", url=url,
                                 singleton_group="TIXNGO")


def test_unknown_type_and_bad_emails_are_refused(admin_actor):
    with pytest.raises(InvalidInput) as exc:
        services.create_interface(admin_actor, type="NOPE", name="x")
    assert exc.value.field == "type" and "ECHO" in exc.value.expected
    with pytest.raises(InvalidInput) as exc:
        services.create_interface(admin_actor, type="ECHO", name="x", url="http://127.0.0.1:1",
                                  notify_emails="ops@example.org, not-an-address")
    assert exc.value.field == "notify_emails" and exc.value.found == "not-an-address"


# ---------------------------------------------------------------- secrets

def test_secret_is_encrypted_at_rest_and_a_blank_save_keeps_it(admin_actor, echo):
    interface = services.create_interface(admin_actor, type="ECHO", name="E", url=echo.url, secret=ECHO_KEY)
    raw = stored_secret_column(interface)
    assert raw and ECHO_KEY not in raw
    assert services.interface_secret(interface) == ECHO_KEY
    services.update_interface(admin_actor, interface, name="E2", secret="")
    services.update_interface(admin_actor, interface, url=echo.url + "/")
    interface.refresh_from_db()
    assert services.interface_secret(interface) == ECHO_KEY
    services.update_interface(admin_actor, interface, clear_secret=True)
    interface.refresh_from_db()
    assert not interface.has_secret


def test_secrets_rotate_to_a_new_key(admin_actor, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    interface = services.create_interface(admin_actor, type="ECHO", name="E", url="http://127.0.0.1:9",
                                          secret="s3cret")
    settings.FERNET_KEYS = [new, old]
    assert services.interface_secret(interface) == "s3cret"
    assert services.rotate_secrets() == 1
    settings.FERNET_KEYS = [new]
    interface.refresh_from_db()
    assert services.interface_secret(interface) == "s3cret"
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(secrets.SecretUnreadable):
        services.interface_secret(interface)


def test_the_audit_log_never_holds_the_secret(admin_actor):
    from passgate.orgs.models import AuditEntry

    services.create_interface(admin_actor, type="ECHO", name="E", url="http://127.0.0.1:9", secret="plain-s3cret")
    entry = AuditEntry.objects.filter(object_type="jobs.interface").get()
    assert "plain-s3cret" not in json.dumps(entry.after) and entry.after["secret_encrypted"] == "***"


# ---------------------------------------------------------------- the admin form

@pytest.fixture
def admin_client(org):
    user = get_user_model().objects.create_user("ops", password="pw-ops", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


def admin_form_data(interface, **changes):
    data = {"type": interface.type, "name": interface.name, "url": interface.url, "username": interface.username,
            "secret": "", "parameters_text": interface.parameters_text, "notify_emails": interface.notify_emails,
            "enabled": "on"}
    data.update(changes)
    return data


def test_admin_never_shows_the_secret_and_a_blank_save_keeps_it(admin_client, echo_interface):
    url = reverse("admin:jobs_interface_change", args=[echo_interface.pk])
    page = admin_client.get(url).content.decode()
    assert ECHO_KEY not in page and echo_interface.secret_encrypted not in page
    assert "stored (hidden)" in page
    response = admin_client.post(url, admin_form_data(echo_interface, name="Renamed"))
    assert response.status_code == 302, response.content.decode()[:2000]
    echo_interface.refresh_from_db()
    assert echo_interface.name == "Renamed" and services.interface_secret(echo_interface) == ECHO_KEY
    admin_client.post(url, admin_form_data(echo_interface, secret="new-key-123"))
    echo_interface.refresh_from_db()
    assert services.interface_secret(echo_interface) == "new-key-123"


def test_admin_form_shows_parameter_errors_with_path_and_line(admin_client, org):
    response = admin_client.post(reverse("admin:jobs_interface_add"), {
        "organisation": org.pk, "type": "OTIPASS", "name": "Oti", "url": "https://o.example/api/toulouse",
        "secret": "k", "parameters_text": '{\n "NumType": "serial",\n "NumType": "numeric"\n}', "enabled": "on"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "NumType" in page and "line 3" in page and "appears twice" in page
    assert not Interface.objects.exists()


def test_admin_creates_through_the_services_and_offers_run_now(admin_client, org, echo, catalogue):
    response = admin_client.post(reverse("admin:jobs_interface_add"), {
        "organisation": org.pk, "type": "ECHO", "name": "Echo", "url": echo.url, "secret": ECHO_KEY,
        "parameters_text": "// nothing to set\n{}", "enabled": "on"})
    assert response.status_code == 302
    interface = Interface.objects.get()
    assert services.interface_secret(interface) == ECHO_KEY
    response = admin_client.post(reverse("admin:jobs_schedule_add"), {
        "organisation": org.pk, "interface": interface.pk, "function": "ECHO_TICKETS", "name": "",
        "enabled": "on", "frequency_minutes": 5, "batch_size": "", "parameters_text": "{}",
        "date_from_0": "2026-01-01", "date_from_1": "00:00:00"})
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = interface.schedules.get()
    page = admin_client.get(reverse("admin:jobs_schedule_change", args=[schedule.pk])).content.decode()
    assert "keeps a date from" in page
    response = admin_client.post(reverse("admin:jobs_schedule_changelist"),
                                 {"action": "run_now", "_selected_action": [schedule.pk]}, follow=True)
    assert "Run now" in response.content.decode()
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.count() == 1
    response = admin_client.post(reverse("admin:jobs_interface_changelist"),
                                 {"action": "test_connection", "_selected_action": [interface.pk]}, follow=True)
    assert "URL and API key are right" in response.content.decode()


def test_admin_execution_pages_filter_and_search_by_barcode_or_ticket(admin_client, echo, echo_schedule,
                                                                      catalogue):
    from passgate.jobs.runner import run_schedule

    ticket = catalogue.sell_concert(1).tickets.get()
    execution = run_schedule(echo_schedule.pk)
    changelist = reverse("admin:jobs_execution_changelist")
    for query in ({"status": "OK"}, {"q": ticket.barcode}, {"q": str(ticket.pk)},
                  {"function": "ECHO_TICKETS"}, {"interface__id__exact": echo_schedule.interface_id}):
        page = admin_client.get(changelist, query)
        assert page.status_code == 200 and f"/admin/jobs/execution/{execution.pk}/" in page.content.decode(), query
    page = admin_client.get(changelist, {"q": "no-such-barcode"}).content.decode()
    assert f"/admin/jobs/execution/{execution.pk}/" not in page
    page = admin_client.get(reverse("admin:jobs_execution_change", args=[execution.pk])).content.decode()
    assert "1 item(s)" in page and "call(s)" in page
    items = admin_client.get(reverse("admin:jobs_executionitem_changelist"),
                             {"execution__id__exact": execution.pk, "q": ticket.barcode})
    assert items.status_code == 200 and ticket.barcode in items.content.decode()
    calls = admin_client.get(reverse("admin:jobs_partnercall_changelist"), {"execution__id__exact": execution.pk})
    assert "/batch" in calls.content.decode() and ECHO_KEY not in calls.content.decode()


# ---------------------------------------------------------------- the API

def test_api_never_returns_the_secret_and_a_blank_patch_keeps_it(api_client, echo):
    created = api_client.post("/api/v1/interfaces", {
        "type": "ECHO", "name": "Echo", "url": echo.url, "secret": ECHO_KEY, "parameters_text": "{}"},
        content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_secret"] is True and "secret" not in body and ECHO_KEY not in created.content.decode()
    iid = body["id"]
    patched = api_client.patch(f"/api/v1/interfaces/{iid}", {"name": "Echo 2", "secret": ""},
                               content_type="application/json")
    assert patched.status_code == 200 and patched.json()["name"] == "Echo 2"
    assert services.interface_secret(Interface.objects.get(pk=iid)) == ECHO_KEY
    for path in ("/api/v1/interfaces", f"/api/v1/interfaces/{iid}"):
        assert ECHO_KEY not in api_client.get(path).content.decode()
    tested = api_client.post(f"/api/v1/interfaces/{iid}/test")
    assert tested.status_code == 200 and tested.json()["ok"] is True


def test_api_parameter_errors_name_path_line_expected_found(api_client):
    response = api_client.post("/api/v1/interfaces", {
        "type": "OTIPASS", "name": "Oti", "url": "https://o.example/api/toulouse",
        "parameters_text": '{\n  "NumType": 7\n}'}, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "parameters" and "$.NumType (line 2)" in body["message"]
    assert body["found"] == "7" and "serial" in body["expected"]


def test_api_schedules_runs_and_executions(api_client, echo, catalogue):
    iid = api_client.post("/api/v1/interfaces", {"type": "ECHO", "name": "Echo", "url": echo.url,
                                                 "secret": ECHO_KEY}, content_type="application/json").json()["id"]
    created = api_client.post("/api/v1/schedules", {"interface_id": iid, "function": "ECHO_TICKETS",
                                                    "parameters_text": '{"chunk_size": 5}',
                                                    "date_from": "2026-01-01T00:00:00"},
                              content_type="application/json")
    assert created.status_code == 201, created.content
    schedule = created.json()
    assert schedule["warnings"] and schedule["date_from"].endswith("+01:00")  # Europe/Paris, winter
    cleared = api_client.patch(f"/api/v1/schedules/{schedule['id']}", {"date_from": None},
                               content_type="application/json").json()
    assert cleared["date_from"] is None and not any("date from" in w for w in cleared["warnings"])
    queued = api_client.post(f"/api/v1/schedules/{schedule['id']}/run", content_type="application/json")
    assert queued.status_code == 202
    ticket = catalogue.sell_concert(1).tickets.get()
    from passgate.jobs.runner import run_schedule

    execution = run_schedule(schedule["id"])
    listed = api_client.get("/api/v1/executions", {"barcode": ticket.barcode}).json()["items"]
    assert [e["id"] for e in listed] == [execution.pk] and listed[0]["status"] == "OK"
    items = api_client.get(f"/api/v1/executions/{execution.pk}/items").json()["items"]
    assert items[0]["object_ref"] == ticket.barcode and items[0]["partner_code"] == "ACCEPTED"
    calls = api_client.get(f"/api/v1/executions/{execution.pk}/calls").json()["items"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [("GET", "/ping", 200), ("POST", "/batch", 200)]
    types = api_client.get("/api/v1/interface-types").json()
    echo_type = next(t for t in types if t["code"] == "ECHO")
    assert echo_type["functions"][0]["name"] == "ECHO_TICKETS"
    assert next(t for t in types if t["code"] == "TIXNGO")["one_per_organisation"] is True


def test_another_organisation_gets_404(api_client, other_api_client, echo, admin_actor, echo_schedule):
    from passgate.jobs.runner import run_schedule

    execution = run_schedule(echo_schedule.pk)
    iid, sid = echo_schedule.interface_id, echo_schedule.pk
    for path in (f"/api/v1/interfaces/{iid}", f"/api/v1/schedules/{sid}", f"/api/v1/executions/{execution.pk}",
                 f"/api/v1/executions/{execution.pk}/items", f"/api/v1/executions/{execution.pk}/calls"):
        assert other_api_client.get(path).status_code == 404, path
        assert api_client.get(path).status_code == 200, path
    assert other_api_client.patch(f"/api/v1/interfaces/{iid}", {"name": "x"},
                                  content_type="application/json").status_code == 404
    assert other_api_client.post(f"/api/v1/schedules/{sid}/run").status_code == 404
    assert other_api_client.post(f"/api/v1/interfaces/{iid}/test").status_code == 404
    assert other_api_client.post("/api/v1/schedules", {"interface_id": iid, "function": "ECHO_TICKETS"},
                                 content_type="application/json").status_code == 404
    assert other_api_client.get("/api/v1/interfaces").json()["items"] == []


def test_read_only_token_may_read_but_not_change(admin_actor, echo_interface):
    from django.test import Client as DjangoClient

    from passgate.orgs.services import issue_api_token

    _, plaintext = issue_api_token(admin_actor, "ro", Role.READ_ONLY)
    client = DjangoClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get(f"/api/v1/interfaces/{echo_interface.pk}").status_code == 200
    assert client.patch(f"/api/v1/interfaces/{echo_interface.pk}", {"name": "x"},
                        content_type="application/json").status_code == 403


def test_save_and_run_now_button_on_a_schedule(admin_client, echo_schedule):
    from django_tasks_db.models import DBTaskResult

    url = reverse("admin:jobs_schedule_change", args=[echo_schedule.pk])
    assert 'name="_run_now"' in admin_client.get(url).content.decode()
    response = admin_client.post(url, {
        "interface": echo_schedule.interface_id, "function": "ECHO_TICKETS", "name": "Nightly",
        "enabled": "on", "frequency_minutes": 5, "batch_size": "", "parameters_text": '{"chunk_size": 3}',
        "_run_now": "Save and run now"}, follow=True)
    assert "Run queued" in response.content.decode()
    echo_schedule.refresh_from_db()
    assert echo_schedule.name == "Nightly" and echo_schedule.parameters == {"chunk_size": 3}
    assert DBTaskResult.objects.get().args_kwargs["args"][:2] == [echo_schedule.pk, "MANUAL"]


@pytest.mark.parametrize("typed", [
    '{"NumType": "serial"}',
    '// mapping\n{ /* none yet */ }',
    "",
    OTIPASS_PARAMS,
])
def test_the_project_split_from_the_url_is_written_into_the_parameters_so_a_later_save_works(
        admin_actor, typed):
    interface = services.create_interface(admin_actor, type="OTIPASS", name="Oti", secret="k",
                                          url="https://otipass.example/api/toulouse", parameters_text=typed)
    assert '"OtipassProjectId": "toulouse",' in interface.parameters_text or \
        '"OtipassProjectId": "toulouse"  // taken from the URL' in interface.parameters_text
    from passgate.jobs.params import parse_document

    assert parse_document(interface.parameters_text)[0] == interface.parameters
    # Saving again what the back office shows (URL …/api, the text above) keeps working.
    again = services.update_interface(admin_actor, Interface.objects.get(pk=interface.pk), name="Otipass")
    assert again.url == "https://otipass.example/api" and again.parameters["OtipassProjectId"] == "toulouse"
    assert again.parameters_text == interface.parameters_text


def test_changing_the_type_under_existing_schedules_is_refused(admin_actor, echo_interface, echo_schedule):
    with pytest.raises(Conflict) as exc:
        services.update_interface(admin_actor, echo_interface, type="TIXNGO",
                                  url="https://t.example/organizer/tickets")
    assert exc.value.field == "type" and "ECHO_TICKETS" in exc.value.expected


def test_test_connection_without_a_connector_checks_that_the_url_answers(admin_actor, echo):
    from sandboxes.framework import free_port

    interface = services.create_interface(admin_actor, type="TIXNGO", name="Wallet",
                                          url=echo.url + "/v1/organizer/tickets", secret="k")
    report = services.test_connection(admin_actor, interface)
    assert not report.ok and "answers (HTTP 404)" in report.message and "not checked" in str(report.checks)
    services.update_interface(admin_actor, interface, url=f"http://127.0.0.1:{free_port()}/organizer/tickets")
    report = services.test_connection(admin_actor, interface)
    assert not report.ok and "cannot be reached" in report.message
