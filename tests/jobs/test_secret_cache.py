"""The doors read a partner interface's secret at every scan: it is decrypted once per
process and secret, and a new secret or a new key set is never answered from the cache."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from passgate.jobs import secrets as secret_store
from passgate.jobs import services as jobs

pytestmark = pytest.mark.django_db


def test_the_secret_is_decrypted_once_per_process_and_follows_a_change(admin_actor):
    interface = jobs.create_interface(admin_actor, type="ECHO", name="Cached", url="http://127.0.0.1:9",
                                      secret="first-key")
    before = secret_store._decrypt_cached.cache_info()
    assert jobs.interface_secret(interface) == "first-key"
    assert jobs.interface_secret(interface) == "first-key"
    after = secret_store._decrypt_cached.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)

    interface = jobs.update_interface(admin_actor, interface, secret="second-key")
    assert jobs.interface_secret(interface) == "second-key"


def test_a_key_change_is_not_answered_from_the_cache(admin_actor):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FERNET_KEYS=[old]):
        token = secret_store.encrypt("partner-key")
        assert secret_store.decrypt_cached(token) == "partner-key"
    with override_settings(FERNET_KEYS=[new]), pytest.raises(secret_store.SecretUnreadable):
        secret_store.decrypt_cached(token)  # the same token under other keys is unreadable, not cached
