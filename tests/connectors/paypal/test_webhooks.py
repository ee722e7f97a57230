"""PayPal's webhooks, signed by the sandbox and verified by asking it (verify-webhook-signature), as
passgate asks PayPal: a repeated or late COMPLETED never makes a second ticket, a forged one is refused
and logged, a refund cancels the ticket and cuts its session, DENIED and REVERSED issue nothing."""

from __future__ import annotations

import json

from passgate.connectors.paypal.models import PaymentStatus, PaypalWebhookEvent
from passgate.guest import coa
from passgate.guest.models import CutReason, Disconnect, GuestStatus, GuestTicket, TicketType
from sandboxes.nas import NasStandIn


def pending_payment(guest, paypal):
    """A payment whose capture PayPal left PENDING: no ticket until PayPal says COMPLETED."""
    paypal.seed(capture_status="PENDING")
    assert guest.pay().status_code == 202
    return guest.payment()


def test_a_completed_webhook_sent_twice_issues_one_ticket(guest, paypal, account, smtp):
    payment = pending_payment(guest, paypal)
    sent = paypal.webhook(payment.order_id, "COMPLETED", times=2)
    first, second = sent["deliveries"]
    assert json.loads(first["body"])["id"] == json.loads(second["body"])["id"]  # the same event, twice
    answer = guest.webhook(account, first)
    assert answer.status_code == 200 and "issued" in answer.json()["result"]
    again = guest.webhook(account, second)
    assert again.status_code == 200 and again.json()["result"] == "event already received"
    ticket = GuestTicket.objects.get()
    assert ticket.type == TicketType.PAYPAL and ticket.user_id == "buyer@example.com"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and payment.ticket == ticket
    assert PaypalWebhookEvent.objects.filter(verified=True).count() == 1
    assert len(smtp.wait_for(1)) == 1


def test_a_new_completed_event_for_a_capture_already_ticketed_issues_nothing_more(guest, paypal, account, smtp):
    payment = pending_payment(guest, paypal)
    guest.webhook(account, paypal.webhook(payment.order_id, "COMPLETED")["deliveries"][0])
    # PayPal sends another event (a new id) for the same capture: the capture id keeps it at one ticket
    payment.refresh_from_db()
    payment.ticket = None
    payment.save()
    answer = guest.webhook(account, paypal.webhook(payment.order_id, "COMPLETED")["deliveries"][0])
    assert answer.status_code == 200
    assert GuestTicket.objects.count() == 1
    assert len(smtp.wait_for(1)) == 1


def test_a_webhook_after_the_return_page_issued_keeps_one_ticket(guest, paypal, account, smtp):
    response = guest.pay()
    assert response.status_code == 302
    payment = guest.payment()
    [delivery] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    answer = guest.webhook(account, delivery)
    assert answer.status_code == 200 and "already issued" in answer.json()["result"]
    assert GuestTicket.objects.count() == 1
    assert len(smtp.wait_for(1)) == 1


def test_a_forged_webhook_is_refused_logged_and_issues_nothing(guest, paypal, account, caplog):
    payment = pending_payment(guest, paypal)
    [forged] = paypal.webhook(payment.order_id, "COMPLETED", bad_signature=True)["deliveries"]
    answer = guest.webhook(account, forged)
    assert answer.status_code == 400
    assert not GuestTicket.objects.exists()
    event = PaypalWebhookEvent.objects.get()
    assert event.verified is False and event.event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert "signature not verified" in caplog.text
    assert len(paypal.calls("/v1/notifications/verify-webhook-signature")) == 1  # PayPal was asked


def test_a_forged_event_cannot_take_the_id_of_the_genuine_one(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [genuine] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    forged = {"headers": dict(genuine["headers"], **{"PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk"}), "body": genuine["body"]}
    assert guest.webhook(account, forged).status_code == 400
    assert guest.webhook(account, genuine).status_code == 200
    assert GuestTicket.objects.count() == 1


def test_a_tampered_body_fails_verification(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [genuine] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    event = json.loads(genuine["body"])
    event["resource"]["amount"]["value"] = "500.00"
    assert guest.webhook(account, {"headers": genuine["headers"], "body": json.dumps(event)}).status_code == 400
    assert not GuestTicket.objects.exists()


def test_a_webhook_that_cannot_be_verified_is_not_acknowledged(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [delivery] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    paypal.faults(down=True)
    answer = guest.webhook(account, delivery)
    assert answer.status_code == 503  # PayPal sends it again later
    assert not PaypalWebhookEvent.objects.exists() and not GuestTicket.objects.exists()
    paypal.clear_faults()
    assert guest.webhook(account, delivery).status_code == 200
    assert GuestTicket.objects.count() == 1


def test_not_json_is_a_clear_400(guest, account):
    response = guest.client.post(f"/paypal/webhooks/{account.pk}/", "nope", content_type="application/json")
    assert response.status_code == 400 and "event_type" in response.json()["result"]


def test_a_refund_cancels_the_ticket_and_sends_a_disconnect(guest, paypal, account, radius, hotel):
    assert guest.pay().status_code == 302
    ticket = guest.payment().ticket
    assert radius.acct("Start", ticket.username, "live-1").status_code == 204
    nas = NasStandIn("radius-secret", 1, 1).start()  # only its CoA/Disconnect port is used here
    try:
        hotel.nas.coa_port = nas.coa_port
        hotel.nas.save()
        [delivery] = paypal.webhook(guest.payment().order_id, "REFUNDED")["deliveries"]
        answer = guest.webhook(account, delivery)
        assert answer.status_code == 200 and "cancelled, 1 session(s) cut" in answer.json()["result"]
        ticket.refresh_from_db()
        assert ticket.status == GuestStatus.CANCELLED
        assert guest.payment().status == PaymentStatus.REFUNDED
        cut = Disconnect.objects.get()
        assert cut.reason == CutReason.CANCELLED and cut.attributes["User-Name"] == ticket.username
        coa.send_pending(hotel.location.organisation, timeout=0.5, retries=1)
        assert [r["User-Name"] for r in nas.received] == [[ticket.username]]  # the Disconnect-Request arrived
    finally:
        nas.stop()
    # the refunded payment's return link no longer logs anyone in
    again = guest.client.get(f"/paypal/return/{guest.payment().reference}/",
                             {"token": guest.payment().order_id})
    assert again.status_code == 409


def test_a_denied_capture_marks_the_payment_and_issues_nothing(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [delivery] = paypal.webhook(payment.order_id, "DENIED")["deliveries"]
    assert guest.webhook(account, delivery).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.DENIED and not GuestTicket.objects.exists()


def test_a_reversed_approval_marks_the_payment_and_issues_nothing(guest, paypal, account):
    started = guest.buy()
    guest.approve(started["Location"])
    payment = guest.payment()
    [delivery] = paypal.webhook(payment.order_id, "REVERSED")["deliveries"]
    assert guest.webhook(account, delivery).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REVERSED and not GuestTicket.objects.exists()


def test_a_late_denied_does_not_undo_a_completed_payment(guest, paypal, account):
    guest.pay()
    payment = guest.payment()
    [delivery] = paypal.webhook(payment.order_id, "DENIED")["deliveries"]
    assert guest.webhook(account, delivery).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and GuestTicket.objects.get().status == GuestStatus.NO_USE


def test_the_webhook_url_may_name_the_organisation_instead_of_the_account(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [delivery] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in delivery["headers"].items()
               if k.lower() != "content-type"}
    answer = guest.client.post("/paypal/webhooks/demo/", delivery["body"], content_type="application/json", **headers)
    assert answer.status_code == 200 and GuestTicket.objects.count() == 1
    assert guest.client.post("/paypal/webhooks/nobody/", "{}", content_type="application/json").status_code == 404


def test_a_completed_event_arriving_after_the_refund_issues_nothing(guest, paypal, account):
    payment = pending_payment(guest, paypal)
    [completed] = paypal.webhook(payment.order_id, "COMPLETED")["deliveries"]
    [refunded] = paypal.webhook(payment.order_id, "REFUNDED")["deliveries"]
    assert guest.webhook(account, refunded).status_code == 200  # out of order: the refund first
    answer = guest.webhook(account, completed)
    assert answer.status_code == 200 and answer.json()["result"] == "payment REFUNDED: no ticket"
    assert not GuestTicket.objects.exists()
