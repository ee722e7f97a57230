"""Barcodes: unguessable, unique, never reused."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

# Crockford base32 without I, L, O, U: easy to read aloud and to type at a door.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16  # 80 bits of randomness


def random_barcode() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def barcode_taken(barcode: str) -> bool:
    from .models import RetiredBarcode, Ticket

    return Ticket.objects.filter(barcode=barcode).exists() or RetiredBarcode.objects.filter(barcode=barcode).exists()


_factories: dict[str, Any] = {}


def barcode_factory():
    """The factory named by settings.BARCODE_FACTORY (PASSGATE_BARCODE_FACTORY): a dotted path to a
    callable (organisation, product, performance) -> barcode | None (None = a random barcode);
    empty = random barcodes only. Read from the setting, never patched in at start-up."""
    path = getattr(settings, "BARCODE_FACTORY", "") or ""
    if not path:
        return None
    factory = _factories.get(path)
    if factory is None:
        factory = _factories[path] = import_string(path)
    return factory


def new_barcode(organisation=None, product=None, performance=None) -> str:
    """A barcode no ticket has or ever had (the unique constraints are the last word)."""
    factory = barcode_factory()
    while True:
        barcode = None
        if factory is not None and organisation is not None:
            barcode = factory(organisation, product, performance)
        barcode = barcode or random_barcode()
        if not barcode_taken(barcode):
            return barcode
