"""A guest buys WiFi through PayPal, over real HTTP against the PayPal sandbox: the ticket is issued
only on a COMPLETED capture, once, e-mailed to the payer, and the guest lands on the portal's
credentials page. Failure paths: declined, pending, abandoned, PayPal down or rate-limiting."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from passgate.connectors.paypal import services
from passgate.connectors.paypal.models import PaymentStatus, PaypalPayment
from passgate.errors import InvalidInput
from passgate.guest.channels import Purchase, ticket_from_token
from passgate.guest.models import GuestTicket, TicketType


def landing_ticket(response) -> GuestTicket:
    assert response.status_code == 302, response.content
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    ticket = ticket_from_token(token)
    assert ticket is not None
    return ticket


def test_a_guest_pays_and_gets_a_paypal_ticket_by_page_and_email(guest, paypal, smtp):
    response = guest.pay()
    ticket = landing_ticket(response)
    assert ticket.type == TicketType.PAYPAL
    assert ticket.user_id == "buyer@example.com"  # the payer's PayPal address
    assert ticket.method == guest.hotel.day and ticket.price == Decimal("5.00")
    payment = guest.payment()
    assert payment.status == PaymentStatus.COMPLETED and payment.ticket == ticket
    assert payment.payer_email == "buyer@example.com" and payment.capture_id
    assert ticket.batch.client_reference == f"paypal:{payment.capture_id}"
    # PayPal has our reference and the price
    [order] = paypal.data()["orders"].values()
    assert order["unit"]["custom_id"] == payment.reference == order["unit"]["invoice_id"]
    assert order["unit"]["amount"] == {"currency_code": "EUR", "value": "5.00"}
    assert order["return_url"].startswith("http://testserver/paypal/return/" + payment.reference)
    # the landing page shows the credentials
    page = guest.client.get(response["Location"])
    assert ticket.username in page.content.decode() and ticket.password in page.content.decode()
    # and the payer gets them by e-mail
    [(_, to, message)] = smtp.wait_for(1)
    assert to == ["buyer@example.com"]
    assert ticket.password in message.get_body(("plain",)).get_content()


def test_a_variable_method_for_three_days_costs_three_days(guest, paypal, smtp):
    ticket = landing_ticket(guest.pay(guest.hotel.variable, days=3))
    [order] = paypal.data()["orders"].values()
    assert order["unit"]["amount"]["value"] == "9.00"  # 3.00 a day
    payment = guest.payment()
    assert (payment.amount, payment.days) == (Decimal("9.00"), 3)
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    first = timezone.localdate()
    assert ticket.valid_from.astimezone(zone).date() == first
    assert ticket.expires_at.astimezone(zone).date() == first + dt.timedelta(days=3)
    assert ticket.price == Decimal("9.00") and ticket.type == TicketType.PAYPAL


def test_a_reload_of_the_return_page_shows_the_same_ticket_without_capturing_again(guest, paypal, smtp):
    started = guest.buy()
    back = guest.approve(started["Location"])
    first = landing_ticket(guest.back(back))
    again = landing_ticket(guest.back(back))
    assert first == again
    assert len(paypal.calls("/capture")) == 1
    assert GuestTicket.objects.count() == 1
    assert len(smtp.wait_for(1)) == 1


def test_a_declined_capture_issues_nothing_and_says_so(guest, paypal, smtp):
    paypal.seed(capture_status="DECLINED")
    response = guest.pay()
    assert response.status_code == 402
    assert "declined" in response.content.decode().lower()
    assert "Nothing was charged" in response.content.decode()
    assert not GuestTicket.objects.exists()
    assert guest.payment().status == PaymentStatus.DECLINED
    assert smtp.messages == []


def test_an_order_completed_with_its_capture_pending_is_no_payment(guest, paypal, smtp):
    paypal.seed(capture_status="PENDING")
    response = guest.pay()
    [order] = paypal.data()["orders"].values()
    assert order["status"] == "COMPLETED"  # the order says so; the capture does not
    assert response.status_code == 202 and "pending" in response.content.decode().lower()
    assert not GuestTicket.objects.exists()
    assert guest.payment().status == PaymentStatus.PENDING


def test_the_payer_abandoning_on_paypal_issues_nothing(guest, paypal):
    started = guest.buy()
    response = guest.back(guest.approve(started["Location"], cancel=True))
    assert response.status_code == 200 and "abandoned" in response.content.decode().lower()
    assert guest.payment().status == PaymentStatus.ABANDONED
    assert not GuestTicket.objects.exists()
    assert paypal.calls("/capture") == []


def test_paypal_down_when_buying_gives_a_clear_page_and_nothing(guest, paypal):
    paypal.stop()
    response = guest.buy()
    assert response.status_code == 503
    assert "PayPal cannot be reached" in response.content.decode()
    assert guest.payment().status == PaymentStatus.FAILED
    assert not GuestTicket.objects.exists()


def test_paypal_down_when_capturing_gives_a_clear_page_and_nothing(guest, paypal):
    started = guest.buy()
    back = guest.approve(started["Location"])
    paypal.faults(down=True)
    response = guest.back(back)
    assert response.status_code == 503 and "PayPal cannot be reached" in response.content.decode()
    assert not GuestTicket.objects.exists()
    # PayPal back: the same return link captures (once) and issues
    paypal.clear_faults()
    assert landing_ticket(guest.back(back)).type == TicketType.PAYPAL


def test_a_429_on_capture_is_retried_after_retry_after(guest, paypal, smtp):
    started = guest.buy()
    back = guest.approve(started["Location"])
    paypal.faults(rate_limit={"count": 1, "retry_after": 0})
    landing_ticket(guest.back(back))
    captures = paypal.calls("/capture")
    assert [c["fault"] for c in captures] == ["429", None]


def test_a_return_link_for_another_order_is_refused(guest, paypal):
    started = guest.buy()
    guest.approve(started["Location"])
    payment = guest.payment()
    response = guest.client.get(f"/paypal/return/{payment.reference}/", {"token": "NOT-THE-ORDER"})
    assert response.status_code == 400 and "token" in response.content.decode()
    assert paypal.calls("/capture") == []


def test_a_price_that_is_not_the_methods_is_refused_before_paypal(guest, paypal, hotel):
    purchase = Purchase(location=hotel.location, method=hotel.day, amount=Decimal("0.01"), currency="EUR")
    with pytest.raises(InvalidInput) as refused:
        services.begin(purchase, lambda ref: ("http://x/r", "http://x/c"))
    assert refused.value.field == "amount"
    # a method whose tickets need a room number the portal never asks for cannot be paid for
    purchase = Purchase(location=hotel.location, method=hotel.single, amount=Decimal("5.00"), currency="EUR")
    with pytest.raises(InvalidInput) as refused:
        services.begin(purchase, lambda ref: ("http://x/r", "http://x/c"))
    assert refused.value.found == "DAY requires room"
    # nor Variable days beyond the method's bounds (14)
    first = dt.date.today() + dt.timedelta(days=1)
    purchase = Purchase(location=hotel.location, method=hotel.variable, amount=Decimal("45.00"), currency="EUR",
                        first_day=first, last_day=first + dt.timedelta(days=14))
    with pytest.raises(InvalidInput) as refused:
        services.begin(purchase, lambda ref: ("http://x/r", "http://x/c"))
    assert refused.value.field == "last_day" and "15 day(s)" in refused.value.found
    assert paypal.calls("/v2/checkout/orders") == [] and not PaypalPayment.objects.exists()
