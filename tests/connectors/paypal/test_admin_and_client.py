"""The back office (secret write-only; payments with their ticket; webhook events, forged ones shown)
and the PayPal client's wire rules (PayPal-Request-Id on POSTs, Retry-After honoured, one token reused)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from passgate.connectors.paypal import client as paypal_client
from passgate.connectors.paypal.client import PaypalClient, PaypalRefused
from passgate.connectors.paypal.models import PaypalAccount
from passgate.jobs.partner_http import PartnerError
from passgate.jobs.secrets import decrypt
from passgate.orgs.models import Role
from passgate.orgs.services import ensure_user, set_membership

from .conftest import CLIENT_ID, SECRET


@pytest.fixture
def desk(hotel):
    user = ensure_user("desk", "pw-desk-123")
    set_membership(hotel.actor, user, Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


def test_the_account_secret_is_write_only_and_a_blank_save_keeps_it(account, desk, paypal):
    page = desk.get(f"/admin/connector_paypal/paypalaccount/{account.pk}/change/")
    assert page.status_code == 200 and SECRET.encode() not in page.content
    assert account.secret_encrypted.encode() not in page.content
    data = {"organisation": account.organisation_id, "location": "", "base_url": paypal.url,
            "client_id": CLIENT_ID, "webhook_id": "WH-SANDBOX-1", "brand_name": "Hotel", "active": "on", "secret": ""}
    response = desk.post(f"/admin/connector_paypal/paypalaccount/{account.pk}/change/", data)
    assert response.status_code == 302, response.content
    assert decrypt(PaypalAccount.objects.get().secret_encrypted) == SECRET
    desk.post(f"/admin/connector_paypal/paypalaccount/{account.pk}/change/", {**data, "secret": "rotated"})
    assert decrypt(PaypalAccount.objects.get().secret_encrypted) == "rotated"
    listing = desk.get("/admin/connector_paypal/paypalaccount/")
    assert f"/paypal/webhooks/{account.pk}/".encode() in listing.content  # the URL to give PayPal


def test_an_account_added_in_the_admin_has_its_secret_encrypted(hotel, desk, paypal):
    data = {"organisation": hotel.actor.organisation.pk, "location": hotel.location.pk, "base_url": paypal.url,
            "client_id": "lobby-app", "webhook_id": "WH-1", "brand_name": "", "active": "on", "secret": "s3cret"}
    response = desk.post("/admin/connector_paypal/paypalaccount/add/", data)
    assert response.status_code == 302, response.content
    saved = PaypalAccount.objects.get()
    assert saved.location == hotel.location and decrypt(saved.secret_encrypted) == "s3cret"
    assert "s3cret" not in saved.secret_encrypted


def test_payments_and_webhook_events_are_listed(guest, paypal, account, desk):
    assert guest.pay().status_code == 302
    payment = guest.payment()
    [forged] = paypal.webhook(payment.order_id, "COMPLETED", bad_signature=True)["deliveries"]
    guest.webhook(account, forged)
    listing = desk.get("/admin/connector_paypal/paypalpayment/").content.decode()
    assert payment.reference in listing and "buyer@example.com" in listing and payment.ticket.serial in listing
    events = desk.get("/admin/connector_paypal/paypalwebhookevent/").content.decode()
    assert "PAYMENT.CAPTURE.COMPLETED" in events and "refused: signature not verified" in events


def test_idempotent_posts_carry_a_paypal_request_id_and_are_retried_on_5xx(paypal):
    paypal.faults(fail_next={"count": 1, "status": 503, "retry_after": 0})
    with PaypalClient(paypal.url, CLIENT_ID, SECRET, sleep=lambda s: None) as api:
        first = api.create_order(reference="R1", amount=Decimal("5"), currency="EUR",
                                 description="x", return_url="http://x/r", cancel_url="http://x/c")
        again = api.create_order(reference="R1", amount=Decimal("5"), currency="EUR",
                                 description="x", return_url="http://x/r", cancel_url="http://x/c")
    assert first.id == again.id  # the same PayPal-Request-Id: the same order
    assert len(paypal.data()["orders"]) == 1
    assert [r["fault"] for r in paypal.calls("/v1/oauth2/token")] == ["fail:503", None]  # retried, then cached


def test_a_capture_before_approval_is_a_refusal_with_paypals_reason(paypal):
    with PaypalClient(paypal.url, CLIENT_ID, SECRET) as api:
        order = api.create_order(reference="R2", amount=Decimal("5"), currency="EUR", description="x",
                                 return_url="http://x/r", cancel_url="http://x/c")
        with pytest.raises(PaypalRefused) as refused:
            api.capture_order(order.id, request_id="R2-capture")
    assert refused.value.issue == "ORDER_NOT_APPROVED"


def test_wrong_credentials_name_the_secret(paypal):
    paypal_client.forget_tokens()
    with PaypalClient(paypal.url, CLIENT_ID, "wrong") as api, pytest.raises(PartnerError) as refused:
        api.token()
    assert refused.value.status == 401 and refused.value.field == "secret"
    assert "wrong" not in str(refused.value)
