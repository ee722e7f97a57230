"""Secrets at rest: Fernet tokens under settings.FERNET_KEYS (newest first,
rotatable with MultiFernet). In development with no key configured, a key is
derived from SECRET_KEY so that the embedded mode works out of the box.

Plain secrets only live in memory, for the time of a partner call; they are
never logged, never returned by the API, never shown by the admin."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from passgate.errors import PassgateError


class SecretUnreadable(PassgateError):
    code = "secret_unreadable"
    http_status = 500


def _keys() -> list[bytes]:
    keys = [k.encode() if isinstance(k, str) else k for k in getattr(settings, "FERNET_KEYS", []) if k]
    if not keys:
        derived = hashlib.sha256(("passgate-fernet:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived)]
    return keys


def fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in _keys()])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PASSGATE_FERNET_KEYS: expected comma-separated Fernet keys (32 url-safe base64 bytes), "
            "e.g. from `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from exc


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with the configured keys", field="secret",
            expected="a secret encrypted with one of PASSGATE_FERNET_KEYS",
            found="a secret encrypted with another key (re-enter it)") from None


def decrypt_cached(token: str) -> str:
    """decrypt(), remembered per process for the hot paths (a partner card at the door reads its
    interface's configuration at every scan). Keyed by the token and the configured keys, so a
    new secret (a new token) or a key change is never answered from an old entry."""
    return _decrypt_cached(token, tuple(_keys()))


@functools.lru_cache(maxsize=256)
def _decrypt_cached(token: str, keys: tuple[bytes, ...]) -> str:
    return decrypt(token)


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (after prepending a key to PASSGATE_FERNET_KEYS)."""
    return fernet().rotate(token.encode()).decode() if token else ""
