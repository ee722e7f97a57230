"""Who draws barcodes is a setting (BARCODE_FACTORY), read by sales through import_string: nothing
is patched into sales at start-up."""

from __future__ import annotations

import pytest

from passgate.access import services as access
from passgate.sales import barcodes

pytestmark = pytest.mark.django_db


def numbered(organisation, product, performance):
    numbered.n += 1
    return f"FACTORY{numbered.n:06d}"


numbered.n = 0


def test_default_setting_issues_signed_barcodes(venue, settings):
    assert settings.BARCODE_FACTORY == "passgate.access.signing.barcode_factory"
    access.set_signed_barcodes(venue.actor, True)
    (card,) = venue.sell_pass()
    assert card.barcode.startswith("S1")


def test_empty_setting_means_random_barcodes_even_when_signing_is_on(venue, settings):
    settings.BARCODE_FACTORY = ""
    access.set_signed_barcodes(venue.actor, True)
    (card,) = venue.sell_pass()
    assert not card.barcode.startswith("S1") and len(card.barcode) == barcodes.LENGTH


def test_another_factory_by_its_dotted_path(venue, settings):
    settings.BARCODE_FACTORY = f"{__name__}.numbered"
    (card,) = venue.sell_pass()
    assert card.barcode.startswith("FACTORY")


def test_nothing_is_patched_into_sales_at_start_up():
    assert not hasattr(barcodes, "set_barcode_factory")
