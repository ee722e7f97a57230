from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from passgate.orgs.models import Membership, Role
from tests.otipass_world import otipass_world  # noqa: F401 - the fixture


@pytest.fixture
def admin_client(org):
    user = get_user_model().objects.create_user("oti-ops", password="pw-ops", is_staff=True)
    Membership.objects.create(user=user, organisation=org, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client
