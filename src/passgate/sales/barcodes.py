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


def new_barcode() -> str:
    """A barcode no ticket has or ever had (the unique constraints are the last word)."""
    while True:
        barcode = random_barcode()
        if not barcode_taken(barcode):
            return barcode
