"""Signed barcodes (Ed25519).

A signed barcode is `S1` + base64url(payload ‖ signature), 114 characters:

    payload (20 bytes, big-endian) = version (1) · kid (2) · serial (5) · product id (4)
                                     · valid_from (4, Unix seconds, 0 = open) · valid_until (4, 0 = open)
    signature (64 bytes) = Ed25519(payload) with the organisation's key `kid`

`serial` is a random 40-bit ticket identifier drawn when the barcode is made
(the database id of the ticket does not exist yet at that moment); with the
product id and the validity window it lets a device that holds the public keys
and the revocation list admit a ticket sold after its last package download.
The private key is stored encrypted with Fernet (keys from PASSGATE_FERNET_KEYS,
falling back to a key derived from SECRET_KEY in development)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.db import transaction
from django.db.models import Max

PREFIX = "S1"
VERSION = 1
PAYLOAD = struct.Struct(">BH5sIII")  # version, kid, serial, product, valid_from, valid_until


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "FERNET_KEYS", []) or [])
    if not keys:
        derived = hashlib.sha256(("passgate-access-signing:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k) for k in keys])


@dataclass(frozen=True)
class SignedPayload:
    kid: int
    serial: int
    product_id: int
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


def _epoch(value: dt.datetime | None) -> int:
    return int(value.timestamp()) if value else 0


def _from_epoch(value: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value else None


def encode(private_key: Ed25519PrivateKey, kid: int, product_id: int, valid_from: dt.datetime | None,
           valid_until: dt.datetime | None, serial: int | None = None) -> str:
    serial = secrets.randbits(40) if serial is None else serial
    payload = PAYLOAD.pack(VERSION, kid, serial.to_bytes(5, "big"), product_id, _epoch(valid_from),
                           _epoch(valid_until))
    return PREFIX + b64e(payload + private_key.sign(payload))


def is_signed(barcode: str) -> bool:
    return barcode.startswith(PREFIX) and len(barcode) == len(PREFIX) + 112


def decode(barcode: str, public_keys: dict[int, Ed25519PublicKey | bytes | str]) -> SignedPayload | None:
    """The verified payload, or None (not a signed barcode, unknown key, bad signature)."""
    if not is_signed(barcode):
        return None
    try:
        raw = b64d(barcode[len(PREFIX):])
    except (ValueError, TypeError):
        return None
    if len(raw) != PAYLOAD.size + 64:
        return None
    payload, signature = raw[:PAYLOAD.size], raw[PAYLOAD.size:]
    version, kid, serial, product_id, valid_from, valid_until = PAYLOAD.unpack(payload)
    if version != VERSION or kid not in public_keys:
        return None
    key = public_keys[kid]
    if isinstance(key, str):
        key = b64d(key)
    if isinstance(key, bytes):
        key = Ed25519PublicKey.from_public_bytes(key)
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        return None
    return SignedPayload(kid, int.from_bytes(serial, "big"), product_id, _from_epoch(valid_from),
                         _from_epoch(valid_until))


# ---------------------------------------------------------------- organisation keys

def create_key(organisation_id: int):
    from .models import SigningKey

    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with transaction.atomic():
        last = SigningKey.objects.filter(organisation_id=organisation_id).aggregate(m=Max("kid"))["m"] or 0
        return SigningKey.objects.create(organisation_id=organisation_id, kid=last + 1, public_key=b64e(raw_public),
                                         secret_key=_fernet().encrypt(raw_private).decode())


def private_key_of(key) -> Ed25519PrivateKey:
    try:
        raw = _fernet().decrypt(key.secret_key.encode())
    except InvalidToken:
        raise RuntimeError("the signing key cannot be decrypted: PASSGATE_FERNET_KEYS changed without "
                           "keeping the old key") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def current_key(organisation_id: int):
    from .models import SigningKey

    return (SigningKey.objects.filter(organisation_id=organisation_id, retired_at__isnull=True)
            .order_by("-kid").first())


def public_keys(organisation_id: int) -> list[dict]:
    from .models import SigningKey

    return [{"kid": k.kid, "alg": "Ed25519", "public_key": k.public_key}
            for k in SigningKey.objects.filter(organisation_id=organisation_id).order_by("kid")]


def validity_window(product, performance) -> tuple[dt.datetime | None, dt.datetime | None]:
    """What a device may check without the database: performance doors-open → end, or
    a fixed product window; a validity from first control stays open (the device counts)."""
    if performance is not None:
        return performance.doors_open_at or performance.starts_at, performance.ends_at
    if getattr(product, "validity", "") == "FIXED":
        return product.valid_from, product.valid_until
    return None, None


def barcode_factory(organisation, product, performance) -> str | None:
    """Hook registered with passgate.sales.barcodes: a signed barcode when the
    organisation switched to signed barcodes, None otherwise (random barcode)."""
    from .models import AccessSettings

    if organisation is None or product is None:
        return None
    if not AccessSettings.objects.filter(organisation_id=organisation.pk, signed_barcodes=True).exists():
        return None
    key = current_key(organisation.pk)
    if key is None:
        key = create_key(organisation.pk)
    valid_from, valid_until = validity_window(product, performance)
    return encode(private_key_of(key), key.kid, product.pk, valid_from, valid_until)
