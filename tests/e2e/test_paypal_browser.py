"""A guest on a phone, in a real browser: picks the Variable method for 3 days, is sent to the PayPal
sandbox's approval page, clicks Approve, comes back and sees the credentials. The sandbox also sends
its PAYMENT.CAPTURE.COMPLETED webhook to passgate over real HTTP while the capture is under way: the
return page and the webhook race, and there is still one ticket and one e-mail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from passgate.connectors.paypal import client as paypal_client
from passgate.connectors.paypal import services
from passgate.connectors.paypal.models import PaymentStatus, PaypalPayment, PaypalWebhookEvent
from passgate.guest.models import GuestTicket, TicketType
from passgate.orgs.services import Actor
from tests.guest.conftest import Hotel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_tokens():
    paypal_client.forget_tokens()


def test_a_guest_buys_three_days_through_paypal_and_sees_the_credentials(live_server, page, org, sandbox, smtp):
    hotel = Hotel(Actor.system(org, "setup"))
    paypal = sandbox("paypal")
    account = services.create_account(hotel.actor, client_id="passgate-client", secret="passgate-secret",
                                      base_url=paypal.url, webhook_id="WH-SANDBOX-1")
    paypal.seed(webhook_url=f"{live_server.url}/paypal/webhooks/{account.pk}/", auto_webhooks=True,
                payer_email="ana.payer@example.com")

    first = timezone.localdate()
    page.goto(f"{live_server.url}/portal/{org.code}/LOBBY/buy/")
    page.check("#method-STAY")  # Variable, 3.00 a day
    page.fill("input[name=first_day]", first.isoformat())
    page.fill("input[name=last_day]", (first + dt.timedelta(days=2)).isoformat())
    with page.expect_navigation():
        page.click("button[value=PAYPAL]")
    assert page.url.startswith(paypal.url + "/checkoutnow")
    assert page.inner_text("#amount") == "9.00 EUR"
    with page.expect_navigation(url=lambda u: "/portal/" in u):
        page.click("text=Approve")

    ticket = GuestTicket.objects.get()
    assert page.inner_text("#ticket-username") == ticket.username
    assert page.inner_text("#ticket-password") == ticket.password
    assert ticket.type == TicketType.PAYPAL and ticket.user_id == "ana.payer@example.com"
    assert ticket.price == Decimal("9.00")
    payment = PaypalPayment.objects.get()
    assert payment.status == PaymentStatus.COMPLETED and payment.ticket == ticket
    # the webhook came over HTTP too, verified, and made no second ticket
    [event] = PaypalWebhookEvent.objects.all()
    assert event.verified and event.event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert [w["status"] for w in paypal.state()["data"]["webhooks"]] == [200]
    messages = smtp.wait_for(2, timeout=2)  # a second e-mail would have arrived by now
    assert [to for _, to, _ in messages] == [["ana.payer@example.com"]]
