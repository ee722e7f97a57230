"""A member of two organisations works in both through the back office, but no
save (change page, inline row, add page) can attach one organisation's rows to
the other's: the form names the field and nothing is stored."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.forms import ModelChoiceField
from django.test import Client, RequestFactory
from django.urls import reverse

from passgate.catalog.models import Category, Product, Tariff
from passgate.orgs.admin_base import OrgScopedAdmin
from passgate.orgs.models import AuditEntry
from passgate.orgs.services import snapshot
from passgate.sales.models import Contact

from .conftest import change_form_data

pytestmark = pytest.mark.django_db

REFUSAL = "belongs to another organisation"


def org_scoped(model) -> bool:
    return any(f.name == "organisation" for f in model._meta.concrete_fields)


def org_scoped_references(model) -> list[str]:
    return [f.name for f in model._meta.get_fields()
            if (f.many_to_one or f.one_to_one or f.many_to_many) and f.concrete and f.name != "organisation"
            and org_scoped(f.related_model)]


# Walk the registry: an admin added tomorrow is covered without touching this file.
ADMINS_WITH_REFERENCES = sorted(
    (model for model, model_admin in admin.site._registry.items()
     if isinstance(model_admin, OrgScopedAdmin) and org_scoped_references(model)),
    key=lambda m: m._meta.label)


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


def stored(obj) -> dict:
    return snapshot(type(obj)._default_manager.get(pk=obj.pk))


@pytest.mark.parametrize("model", ADMINS_WITH_REFERENCES, ids=lambda m: m._meta.label)
def test_a_forged_reference_to_the_other_organisation_is_refused(model, world, two_org_client, two_org_user, org,
                                                                 other_org):
    request = RequestFactory().get("/")
    request.user = two_org_user
    model_admin = admin.site._registry[model]
    if not (model_admin.has_change_permission(request) or model_admin.has_add_permission(request)):
        pytest.skip(f"{model._meta.label} is read-only in the back office: no save to forge")
    row = model._default_manager.filter(organisation=org).order_by("pk").first()
    assert row is not None, f"build a {model._meta.label} in tests/admin/conftest.py world so its admin is covered"
    page = two_org_client.get(change_url(row))
    assert page.status_code == 200
    form = page.context["adminform"].form
    editable = [name for name, field in form.fields.items()
                if isinstance(field, ModelChoiceField) and name in org_scoped_references(model)]
    before = stored(row)
    if not editable:
        # Shown read-only: a forged POST changes nothing either.
        forged = {name: model._meta.get_field(name).related_model._default_manager
                  .filter(organisation=other_org).values_list("pk", flat=True).first()
                  for name in org_scoped_references(model)}
        two_org_client.post(change_url(row), {k: v for k, v in forged.items() if v is not None})
        assert stored(row) == before
        return
    for name in editable:
        related = form.fields[name].queryset.model
        theirs = related._default_manager.filter(organisation=other_org).order_by("pk").first()
        assert theirs is not None, f"build a {related._meta.label} of the other organisation in the world"
        # The dropdown offers it (the user is a member of both): only the save check stands in the way.
        assert form.fields[name].queryset.filter(pk=theirs.pk).exists()
        data = change_form_data(page, row)
        data[name] = str(theirs.pk)
        response = two_org_client.post(change_url(row), data)
        assert response.status_code == 200, f"{name}: the forged save was accepted"
        errors = response.context["adminform"].form.errors
        assert REFUSAL in " ".join(errors.get(name, [])), (name, errors)
        assert stored(row) == before
    # The same page posted back unforged is saved: the user does work in this organisation.
    response = two_org_client.post(change_url(row), change_form_data(page, row))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response


def test_the_registry_walk_finds_the_admins_with_references():
    labels = {m._meta.label for m in ADMINS_WITH_REFERENCES}
    assert {"catalog.Performance", "catalog.Tariff", "access.Door", "access.AccessRule",
            "jobs.Schedule"} <= labels


def test_an_inline_row_cannot_be_put_in_the_other_organisation(world, two_org_client, org, other_org):
    product = world[0].catalogue.concert
    url = change_url(product)
    page = two_org_client.get(url)
    data = change_form_data(page, product)
    before_tariffs = set(Tariff.objects.values_list("pk", "organisation_id", "name"))
    # A new tariff row posted as belonging to the other organisation.
    prefix = "tariffs"
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data.update({f"{prefix}-TOTAL_FORMS": str(total + 1), f"{prefix}-{total}-organisation": str(other_org.pk),
                 f"{prefix}-{total}-code": "FORGED", f"{prefix}-{total}-name": "Forged", f"{prefix}-{total}-price": "1"})
    response = two_org_client.post(url, data)
    assert response.status_code == 200
    row_errors = response.context["inline_admin_formsets"][0].formset.errors[total]
    assert REFUSAL in " ".join(row_errors["organisation"])
    # An existing row moved to the other organisation: refused the same way.
    data = change_form_data(page, product)
    data[f"{prefix}-0-organisation"] = str(other_org.pk)
    response = two_org_client.post(url, data)
    assert response.status_code == 200
    assert REFUSAL in " ".join(response.context["inline_admin_formsets"][0].formset.errors[0]["organisation"])
    assert set(Tariff.objects.values_list("pk", "organisation_id", "name")) == before_tariffs


def test_adding_in_an_organisation_where_the_role_may_not_write_is_refused(world, two_org_client, other_org):
    theirs = world[1].catalogue.concert
    response = two_org_client.post(reverse("admin:catalog_tariff_add"), {
        "organisation": other_org.pk, "product": theirs.pk, "code": "SNEAK", "name": "Sneak", "price": "1"})
    assert response.status_code == 200
    assert "BOX_OFFICE may not manage catalog" in " ".join(response.context["adminform"].form.errors["organisation"])
    assert not Tariff.objects.filter(code="SNEAK").exists()


def test_adding_with_the_other_organisations_product_is_refused(world, two_org_client, org):
    theirs = world[1].catalogue.concert
    response = two_org_client.post(reverse("admin:catalog_tariff_add"), {
        "organisation": org.pk, "product": theirs.pk, "code": "SNEAK", "name": "Sneak", "price": "1"})
    assert response.status_code == 200
    assert REFUSAL in " ".join(response.context["adminform"].form.errors["product"])
    assert not Tariff.objects.filter(code="SNEAK").exists()


def test_the_member_works_in_both_organisations(world, two_org_client, org, other_org):
    mine = world[0].catalogue.concert
    response = two_org_client.post(reverse("admin:catalog_tariff_add"), {
        "organisation": org.pk, "product": mine.pk, "code": "YOUTH", "name": "Youth", "price": "12"})
    assert response.status_code == 302
    assert Tariff.objects.get(code="YOUTH").organisation_id == org.pk
    response = two_org_client.post(reverse("admin:sales_contact_add"), {
        "organisation": other_org.pk, "number": "Z-1", "first_name": "Zoe", "last_name": "Zurich", "payment_modes": "[]",
        "gender": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get(last_name="Zurich")
    assert contact.organisation_id == other_org.pk
    assert AuditEntry.objects.filter(organisation=other_org, object_type="sales.contact",
                                     object_id=str(contact.pk), actor="twofold", action="create").exists()


def test_inline_rows_are_saved_by_the_catalogue_services_and_audited(world, two_org_client, org):
    product = world[0].catalogue.concert
    url = change_url(product)
    page = two_org_client.get(url)
    data = change_form_data(page, product)
    tariffs = page.context["inline_admin_formsets"][0].formset
    assert tariffs.model is Tariff
    first = tariffs.forms[0].instance
    total = int(data["tariffs-TOTAL_FORMS"])
    data.update({"tariffs-0-name": "Full price, renamed", "tariffs-TOTAL_FORMS": str(total + 1),
                 f"tariffs-{total}-organisation": str(org.pk), f"tariffs-{total}-code": "YOUTH",
                 f"tariffs-{total}-name": "Youth", f"tariffs-{total}-price": "12.50"})
    response = two_org_client.post(url, data)
    assert response.status_code == 302
    audit = AuditEntry.objects.filter(organisation=org, actor="twofold")
    update = audit.get(object_type="catalog.tariff", object_id=str(first.pk), action="update")
    assert update.before["name"] == "Full price" and update.after["name"] == "Full price, renamed"
    youth = Tariff.objects.get(product=product, code="YOUTH")
    create = audit.get(object_type="catalog.tariff", object_id=str(youth.pk), action="create")
    assert create.before is None and create.after["price"] == "12.50"
    assert youth.organisation_id == org.pk
    assert update.at is not None and create.user is not None


def test_deleting_an_inline_row_is_audited(world, two_org_client, org):
    product = world[0].catalogue.pass_product
    spare = Category.objects.create(organisation=org, product=product, code="SPARE", name="Spare")
    url = change_url(product)
    page = two_org_client.get(url)
    data = change_form_data(page, product)
    index = next(i for i, f in enumerate(page.context["inline_admin_formsets"][1].formset.forms)
                 if f.instance.pk == spare.pk)
    data[f"categories-{index}-DELETE"] = "on"
    response = two_org_client.post(url, data)
    assert response.status_code == 302
    assert not Category.objects.filter(pk=spare.pk).exists()
    entry = AuditEntry.objects.get(object_type="catalog.category", object_id=str(spare.pk), action="delete")
    assert entry.actor == "twofold" and entry.before["code"] == "SPARE" and entry.after is None


def test_products_inlines_are_the_tariff_and_category_rows():
    assert [i.model for i in admin.site._registry[Product].inlines] == [Tariff, Category]


def test_a_row_stays_in_its_organisation(world, org, other_org):
    from passgate.orgs.services import ensure_user

    client = Client()
    client.force_login(ensure_user("root", "pw-root-123", superuser=True))
    season = world[0].catalogue.season
    response = client.post(change_url(season), {"organisation": other_org.pk, "code": season.code,
                                                "name": "Moved?", "starts_on": "", "ends_on": ""})
    assert response.status_code == 302
    season.refresh_from_db()
    assert season.name == "Moved?" and season.organisation_id == org.pk


def test_deleting_in_the_back_office_goes_through_the_service_and_is_audited(world, two_org_client, org):
    from passgate.catalog import services as catalog
    from passgate.catalog.models import Season

    spare = catalog.create(world[0].catalogue.actor, Season, code="S99", name="Spare season")
    url = reverse("admin:catalog_season_delete", args=[spare.pk])
    assert two_org_client.post(url, {"post": "yes"}).status_code == 302
    assert not Season.objects.filter(pk=spare.pk).exists()
    entry = AuditEntry.objects.get(object_type="catalog.season", object_id=str(spare.pk), action="delete")
    assert entry.actor == "twofold" and entry.organisation_id == org.pk


def test_a_service_refusal_on_save_is_shown_and_nothing_is_kept(two_org_client, org):
    response = two_org_client.post(reverse("admin:sales_contact_add"), {
        "organisation": org.pk, "number": "C-9", "first_name": "Max", "last_name": "Mode",
        "payment_modes": '["BARTER"]', "gender": ""}, follow=True)
    text = response.content.decode()
    assert "Refused — payment_modes: unknown payment mode" in text
    assert not Contact.objects.filter(number="C-9").exists()
    assert not AuditEntry.objects.filter(object_type="sales.contact").exists()


def test_every_back_office_page_renders_for_the_member_of_two_organisations(world, two_org_client, org):
    """The shared machinery (local-time columns, history under each admin's own change form,
    inline rights) holds on every registered admin, not only the ones tested above."""
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        listing = two_org_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert listing.status_code in (200, 403), opts.label
        if not isinstance(model_admin, OrgScopedAdmin):
            continue
        row = model._default_manager.filter(organisation=org).order_by("pk").first()
        if row is not None:
            page = two_org_client.get(change_url(row))
            assert page.status_code == 200, opts.label
            assert 'id="audit-history"' in page.content.decode(), opts.label
    # An admin's own change form still applies under the history (the schedule's "run now" button).
    from passgate.jobs.models import Schedule

    schedule = Schedule.objects.filter(organisation=org).first()
    assert 'name="_run_now"' in two_org_client.get(change_url(schedule)).content.decode()
