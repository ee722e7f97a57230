"""Catalogue rules: codes unique where a user means them to be, and every
refusal names the field, what was expected and what was found."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from passgate.catalog import services as catalog
from passgate.catalog.models import Category, Performance, Product, Season, Tariff, Validity
from passgate.errors import InvalidInput, NotFound


def test_tariff_code_unique_within_its_product_only(catalogue):
    with pytest.raises(InvalidInput) as refused:
        catalog.create(catalogue.actor, Tariff, product=catalogue.concert, code="FULL", name="again", price=1)
    assert refused.value.code == "duplicate"
    # Same code on another product is what a user means by "another tariff".
    catalog.create(catalogue.actor, Tariff, product=catalogue.pass_product, code="FULL", name="Full", price=1)


def test_season_code_unique_per_organisation_not_globally(catalogue, other_catalogue):
    assert Season.objects.filter(code="S26").count() == 1  # other org has OS26
    catalog.create(other_catalogue.actor, Season, code="S26", name="same code, other organisation")
    with pytest.raises(InvalidInput) as refused:
        catalog.create(catalogue.actor, Season, code="S26", name="dup")
    assert refused.value.code == "duplicate"


def test_open_pass_has_no_performances(catalogue):
    now = timezone.now()
    with pytest.raises(InvalidInput) as refused:
        catalog.create(catalogue.actor, Performance, product=catalogue.pass_product, code="X",
                       starts_at=now, ends_at=now + dt.timedelta(hours=1))
    assert refused.value.field == "product"
    assert "OPEN_PASS" in refused.value.message


def test_performance_end_before_start_names_the_field(catalogue):
    now = timezone.now()
    with pytest.raises(InvalidInput) as refused:
        catalog.create(catalogue.actor, Performance, product=catalogue.concert, code="BAD",
                       starts_at=now, ends_at=now - dt.timedelta(hours=1))
    assert refused.value.field == "ends_at"


def test_validity_from_first_control_needs_hours(catalogue):
    with pytest.raises(InvalidInput) as refused:
        catalog.create(catalogue.actor, Product, season=catalogue.season, code="P2", name="Pass",
                       family="OPEN_PASS", validity=Validity.FROM_FIRST_CONTROL)
    assert refused.value.field == "validity_hours"


def test_referencing_another_organisations_row_is_not_found(catalogue, other_catalogue):
    with pytest.raises(NotFound) as refused:
        catalog.create(catalogue.actor, Category, product=other_catalogue.concert, code="C", name="C")
    assert refused.value.field == "product"
    assert not Category.objects.filter(code="C").exists()


def test_failed_update_leaves_the_stored_row_untouched(catalogue):
    with pytest.raises(InvalidInput):
        catalog.update(catalogue.actor, catalogue.full_price, code="", price="12")
    stored = Tariff.objects.get(pk=catalogue.full_price.pk)
    assert (stored.code, str(stored.price)) == ("FULL", "30.00")
