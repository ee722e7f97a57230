"""Sponsored access through real parts: the sponsor's e-mail read from the SMTP sink, its links
followed with the test client; approval issues and e-mails the ticket and the waiting page hands
the guest to the landing page; the links are single-use, expiring and tamper-proof; a denial cuts
the grace access (a Disconnect-Request owed for its open session)."""

from __future__ import annotations

import datetime as dt
import re
import time
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from passgate.errors import InvalidInput
from passgate.guest import services, sponsor
from passgate.guest.models import (
    CountedFrom,
    CutReason,
    Disconnect,
    DisconnectResult,
    Format,
    GuestStatus,
    GuestTicket,
    SponsorRequest,
    SponsorStatus,
    TicketType,
)

GUEST = "ana@guest.example"
BOSS = "boss@hotel.example"


@pytest.fixture
def sponsored(hotel):
    method = services.create_method(hotel.actor, hotel.location, code="GUESTDAY", name="Sponsored day",
                                    format=Format.SINGLE, duration=dt.timedelta(hours=8),
                                    counted_from=CountedFrom.FIRST_LOGIN, devices=2, grace_minutes=15)
    location = hotel.location
    location.sponsors_allowed = f"{BOSS}\n@partner.example"
    location.sponsor_method = method
    location.save()
    hotel.sponsor_method = method
    return hotel


def base(hotel) -> str:
    return f"/portal/{hotel.location.organisation.code}/{hotel.location.code}/sponsor/"


def ask(client, hotel, guest=GUEST, sponsor_email=BOSS, name="Ana Lima"):
    return client.post(base(hotel), {"guest_email": guest, "guest_name": name, "sponsor_email": sponsor_email})


def links(message) -> dict[str, str]:
    """The approve and deny links of the sponsor's mail (text part), as paths on this server."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = dict(re.findall(r"^(Approve|Deny): (\S+)", text, re.M))
    return {k.lower(): urlsplit(v).path for k, v in found.items()}


def test_request_approval_mails_the_ticket_and_the_waiting_page_logs_in(sponsored, smtp):
    guest = Client()
    asked = ask(guest, sponsored)
    assert asked.status_code == 302
    req = SponsorRequest.objects.get()
    assert (req.status, req.guest_email, req.sponsor_email) == (SponsorStatus.PENDING, GUEST, BOSS)
    wait = asked["Location"]
    assert wait.startswith(base(sponsored) + "wait/")

    [(_, to, mail)] = smtp.wait_for(1)
    assert to == [BOSS] and "Ana Lima" in mail["Subject"]
    assert mail.get_body(preferencelist=("html",)) is not None
    approve = links(mail)["approve"]
    assert smtp.messages and "https://backoffice.example" in mail.get_body(preferencelist=("plain",)).get_content()

    # the grace access, at once: a SPONSOR ticket for 15 minutes from now, shown on the waiting page
    grace = req.grace_ticket
    assert grace.type == TicketType.SPONSOR and grace.user_id == GUEST
    assert abs((grace.expires_at - timezone.now()) - dt.timedelta(minutes=15)) < dt.timedelta(seconds=30)
    page = guest.get(wait)
    assert page.status_code == 200 and b"Waiting for your sponsor" in page.content and b"connect now" in page.content
    assert guest.get(wait + "status").json()["status"] == "PENDING"

    # opening the link only asks; the sponsor's click (a POST) decides
    sponsor_browser = Client()
    question = sponsor_browser.get(approve)
    assert question.status_code == 200 and b"Approve access" in question.content
    assert SponsorRequest.objects.get().status == SponsorStatus.PENDING
    done = sponsor_browser.post(approve)
    assert done.status_code == 200 and b"access approved" in done.content

    req.refresh_from_db()
    ticket = req.ticket
    assert req.status == SponsorStatus.APPROVED and req.decided_at is not None
    assert (ticket.type, ticket.user_id, ticket.batch.client_reference) == (TicketType.SPONSOR, GUEST,
                                                                            f"sponsor:{req.pk}")
    # the unused grace ticket is withdrawn
    grace.refresh_from_db()
    assert grace.status == GuestStatus.CANCELLED

    [_, (_, to, guest_mail)] = smtp.wait_for(2)
    assert to == [GUEST] and ticket.username in guest_mail.get_body(preferencelist=("plain",)).get_content()

    state = guest.get(wait + "status").json()
    assert state["status"] == "APPROVED" and state["landing_url"]
    moved = guest.get(wait)
    assert moved.status_code == 302 and moved["Location"] == state["landing_url"]
    landing = guest.get(moved["Location"])
    assert landing.status_code == 200 and ticket.username.encode() in landing.content
    assert ticket.password.encode() in landing.content


def test_links_are_single_use(sponsored, smtp):
    ask(Client(), sponsored)
    [(_, _, mail)] = smtp.wait_for(1)
    urls = links(mail)
    sponsor_browser = Client()
    assert sponsor_browser.post(urls["approve"]).status_code == 200
    again = sponsor_browser.post(urls["approve"])
    assert again.status_code == 409 and b"already approved" in again.content
    assert b"already approved" in sponsor_browser.get(urls["approve"]).content
    deny = sponsor_browser.post(urls["deny"])
    assert deny.status_code == 409 and b"already approved" in deny.content
    assert SponsorRequest.objects.get().status == SponsorStatus.APPROVED
    assert GuestTicket.objects.filter(batch__client_reference__startswith="sponsor:").count() == 1
    assert len(smtp.wait_for(2)) == 2  # the sponsor's mail and one to the guest, never a second


def test_a_tampered_link_says_so(sponsored, smtp):
    ask(Client(), sponsored)
    [(_, _, mail)] = smtp.wait_for(1)
    approve = links(mail)["approve"]
    token = approve.rstrip("/").rsplit("/", 1)[1]
    forged = approve.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    for response in (Client().get(forged), Client().post(forged), Client().post(base(sponsored) + "decide/x:y:z/")):
        assert response.status_code == 400 and b"This link is not valid" in response.content
    # a valid signature for another salt (the waiting page's token) is no decision either
    wait_token = sponsor.wait_token(SponsorRequest.objects.get())
    assert Client().post(base(sponsored) + f"decide/{wait_token}/").status_code == 400
    assert SponsorRequest.objects.get().status == SponsorStatus.PENDING
    assert Client().get(base(sponsored) + "wait/nope/").status_code == 404
    assert Client().get(base(sponsored) + "wait/nope/status").json()["status"] == "UNKNOWN"


def test_an_expired_link_says_so_and_the_request_expires(sponsored, smtp):
    long_ago = timezone.now() - dt.timedelta(hours=25)  # the location gives sponsors 24 h
    req = sponsor.request_access(sponsored.location, sponsor.Ask(GUEST, "Ana", BOSS), now=long_ago)
    [(_, _, mail)] = smtp.wait_for(1)
    approve = links(mail)["approve"]
    assert Client().get(approve).status_code == 410
    late = Client().post(approve)
    assert late.status_code == 410 and b"expired" in late.content
    req.refresh_from_db()
    assert req.status == SponsorStatus.EXPIRED and req.ticket is None
    assert req.grace_ticket.status in {GuestStatus.CANCELLED}  # issued 25 h ago, withdrawn with the request
    # a link whose signature is older than the longest answering time is refused by its age alone
    signed_at = time.time() - sponsor.MAX_REQUEST_HOURS * 3600 - 60
    with mock.patch("django.core.signing.time.time", return_value=signed_at):
        stale = sponsor.decision_token(req, "approve")
    assert sponsor.read_decision(stale, sponsored.location) == (None, "expired")
    assert Client().post(base(sponsored) + f"decide/{stale}/").status_code == 410


def test_the_waiting_page_shows_a_request_nobody_answered_as_expired(sponsored, smtp):
    req = sponsor.request_access(sponsored.location, sponsor.Ask(GUEST, "Ana", BOSS),
                                 now=timezone.now() - dt.timedelta(hours=30))
    state = Client().get(sponsor.wait_url(req) + "status").json()
    assert state["status"] == "EXPIRED" and "did not answer" in state["message"]


def test_sponsor_not_allowed_and_bad_addresses_name_the_field(sponsored, smtp):
    cases = [({"sponsor_email": "someone@elsewhere.example"}, "sponsor_email"),
             ({"sponsor_email": "boss@sub.partner.example"}, "sponsor_email"),
             ({"sponsor_email": "not-an-address"}, "sponsor_email"),
             ({"guest": "ana@"}, "guest_email"),
             ({"name": "  "}, "guest_name")]
    for change, field in cases:
        response = ask(Client(), sponsored, **change)
        assert response.status_code == 400, change
        assert f'data-field="{field}"'.encode() in response.content, (change, response.content)
    assert not SponsorRequest.objects.exists() and not GuestTicket.objects.exists()
    assert smtp.messages == []
    # a domain on the list admits its people
    assert ask(Client(), sponsored, sponsor_email="Carla@Partner.example").status_code == 302


def test_denial_cuts_the_grace_access(sponsored, smtp):
    guest = Client()
    wait = ask(guest, sponsored)["Location"]
    req = SponsorRequest.objects.get()
    grace = req.grace_ticket
    # the guest uses the grace access: the NAS opens a session for it
    assert services.account(sponsored.nas, services.AccountingRecord(
        status_type="Start", unique_id="g1", username=grace.username, acct_session_id="G1", nas_ip="127.0.0.1",
        calling_station="aa-bb-cc-00-00-09")) == "started"
    [(_, _, mail)] = smtp.wait_for(1)
    denied = Client().post(links(mail)["deny"])
    assert denied.status_code == 200 and b"Access denied" in denied.content

    req.refresh_from_db()
    grace.refresh_from_db()
    assert req.status == SponsorStatus.DENIED and req.ticket is None
    assert grace.status == GuestStatus.CANCELLED
    cut = Disconnect.objects.get(session__ticket=grace)
    assert (cut.reason, cut.result) == (CutReason.CANCELLED, DisconnectResult.PENDING)
    assert cut.attributes["User-Name"] == grace.username and cut.attributes["Acct-Session-Id"] == "G1"
    state = guest.get(wait + "status").json()
    assert state["status"] == "DENIED" and state["landing_url"] is None and state["grace_url"] is None
    assert b"declined" in guest.get(wait).content
    assert len(smtp.wait_for(1)) == 1  # nothing mailed to the guest


def test_approval_keeps_a_grace_ticket_in_use(sponsored, smtp):
    ask(Client(), sponsored)
    grace = SponsorRequest.objects.get().grace_ticket
    services.account(sponsored.nas, services.AccountingRecord(status_type="Start", unique_id="g2",
                                                              username=grace.username))
    [(_, _, mail)] = smtp.wait_for(1)
    assert Client().post(links(mail)["approve"]).status_code == 200
    grace.refresh_from_db()
    assert grace.status == GuestStatus.IN_USE and not Disconnect.objects.exists()


def test_requests_are_limited_per_guest_and_per_address(sponsored, smtp):
    for _ in range(sponsor.LIMIT_PER_GUEST):
        assert ask(Client(), sponsored).status_code == 302
    refused = ask(Client(), sponsored)
    assert refused.status_code == 429 and b"Try again in 60 minutes" in refused.content
    assert b'data-field="guest_email"' in refused.content
    assert SponsorRequest.objects.count() == sponsor.LIMIT_PER_GUEST
    # another guest from the same address, until the address's own limit
    for i in range(sponsor.LIMIT_PER_ADDRESS - sponsor.LIMIT_PER_GUEST):
        assert ask(Client(), sponsored, guest=f"g{i}@guest.example").status_code == 302
    by_address = ask(Client(), sponsored, guest="late@guest.example")
    assert by_address.status_code == 429 and b'data-field="client_address"' in by_address.content


def test_a_sponsor_mail_that_cannot_be_sent_keeps_nothing(sponsored, settings):
    from sandboxes.framework import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    response = ask(Client(), sponsored)
    assert response.status_code == 503 and b"could not be sent" in response.content
    assert not SponsorRequest.objects.exists() and not GuestTicket.objects.exists()


def test_no_sponsored_access_without_a_list(hotel):
    assert Client().get(base(hotel)).status_code == 404


def test_location_settings_are_checked(sponsored):
    location = sponsored.location
    location.sponsors_allowed = "boss@hotel.example, partner.example"
    with pytest.raises(InvalidInput) as bad:
        sponsor.validate_sponsoring(location)
    assert (bad.value.field, bad.value.found) == ("sponsors_allowed", "partner.example")
    location.sponsors_allowed = "@partner.example"
    for method, found in ((sponsored.special, "EVENT (SPECIAL)"), (sponsored.single, "room")):
        location.sponsor_method = method
        with pytest.raises(InvalidInput) as bad:
            sponsor.validate_sponsoring(location)
        assert bad.value.field == "sponsor_method" and bad.value.found == found
    location.sponsor_method = sponsored.sponsor_method
    location.sponsor_request_hours = 0
    with pytest.raises(InvalidInput) as bad:
        sponsor.validate_sponsoring(location)
    assert bad.value.field == "sponsor_request_hours"


def test_a_variable_sponsor_method_grants_its_shortest_stay_from_today(sponsored, smtp):
    location = sponsored.location
    location.sponsor_method = sponsored.variable  # STAY: 1–14 days, no grace
    location.save()
    ask(Client(), sponsored)
    [(_, _, mail)] = smtp.wait_for(1)
    assert Client().post(links(mail)["approve"]).status_code == 200
    req = SponsorRequest.objects.get()
    assert req.grace_ticket is None
    assert req.ticket.type == TicketType.SPONSOR and req.ticket.expires_at > timezone.now()
    assert req.ticket.expires_at - req.ticket.valid_from == dt.timedelta(days=1)


def test_admin_lists_requests_by_status_and_checks_the_location_settings(sponsored, smtp):
    from passgate.orgs.models import Role
    from passgate.orgs.services import ensure_user, set_membership

    user = ensure_user("desk", "pw-desk-123")
    set_membership(sponsored.actor, user, Role.ADMINISTRATOR)
    desk = Client()
    desk.force_login(user)
    ask(Client(), sponsored)
    ask(Client(), sponsored, guest="bob@guest.example")
    SponsorRequest.objects.filter(guest_email="bob@guest.example").update(status=SponsorStatus.DENIED)
    listing = desk.get("/admin/guest/sponsorrequest/", {"status__exact": "PENDING"})
    assert listing.status_code == 200
    assert GUEST.encode() in listing.content and b"bob@guest.example" not in listing.content

    page = desk.get(f"/admin/guest/location/{sponsored.location.pk}/change/")
    assert b'name="sponsors_allowed"' in page.content and b'name="sponsor_method"' in page.content
    form = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    form.update({"organisation": sponsored.location.organisation_id, "sponsors_allowed": "partner.example",
                 "sponsor_method": sponsored.sponsor_method.pk})
    refused = desk.post(f"/admin/guest/location/{sponsored.location.pk}/change/", form, follow=True)
    assert b"Refused \xe2\x80\x94 sponsors_allowed: not an e-mail address or a domain" in refused.content
    sponsored.location.refresh_from_db()
    assert sponsored.location.sponsors_allowed == f"{BOSS}\n@partner.example"


@pytest.mark.django_db(transaction=True)
def test_approve_and_deny_at_once_decide_once(sponsored, smtp):
    import threading

    from django.db import connections

    req = sponsor.request_access(sponsored.location, sponsor.Ask(GUEST, "Ana", BOSS))
    tokens = [sponsor.decision_token(req, "approve"), sponsor.decision_token(req, "deny")]
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            outcomes[i] = sponsor.decide(tokens[i], sponsored.location).outcome
        except Exception as exc:  # noqa: BLE001 — the outcome is what we assert on
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(str, outcomes)) in (["ALREADY", "APPROVED"], ["ALREADY", "DENIED"]), outcomes
    req.refresh_from_db()
    issued = GuestTicket.objects.filter(batch__client_reference=f"sponsor:{req.pk}").count()
    assert (req.status, issued) in ((SponsorStatus.APPROVED, 1), (SponsorStatus.DENIED, 0))


def test_an_approval_that_cannot_issue_is_a_clear_page_and_decides_nothing(sponsored, smtp):
    ask(Client(), sponsored)
    [(_, _, mail)] = smtp.wait_for(1)
    method = sponsored.sponsor_method
    method.active = False  # switched off after the request
    method.save()
    response = Client().post(links(mail)["approve"])
    assert response.status_code == 409 and b"Nothing was decided" in response.content
    assert b"switched off" in response.content
    assert SponsorRequest.objects.get().status == SponsorStatus.PENDING
