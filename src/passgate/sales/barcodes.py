"""Barcodes: unguessable, unique, never reused."""

from __future__ import annotations

import secrets

# Crockford base32 without I, L, O, U: easy to read aloud and to type at a door.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16  # 80 bits of randomness


def random_barcode() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def barcode_taken(barcode: str) -> bool:
    from .models import RetiredBarcode, Ticket

    return Ticket.objects.filter(barcode=barcode).exists() or RetiredBarcode.objects.filter(barcode=barcode).exists()


# Optional factory (organisation, product, performance) -> barcode | None, set by
# access control for organisations that issue signed barcodes (None = random).
barcode_factory = None


def set_barcode_factory(factory) -> None:
    global barcode_factory
    barcode_factory = factory


def new_barcode(organisation=None, product=None, performance=None) -> str:
    """A barcode no ticket has or ever had (the unique constraints are the last word)."""
    while True:
        barcode = None
        if barcode_factory is not None and organisation is not None:
            barcode = barcode_factory(organisation, product, performance)
        barcode = barcode or random_barcode()
        if not barcode_taken(barcode):
            return barcode
