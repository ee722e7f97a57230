"""Delivering a guest ticket: the PDF slip (reportlab + segno), e-mail (Django mail, HTML and
text, slip attached) and SMS through a pluggable backend (console, HTTP gateway)."""

from __future__ import annotations

import io
import logging
import smtplib
import sys
import zoneinfo
from urllib.parse import urlencode, urlsplit, urlunsplit

import phonenumbers
import segno
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils.html import escape

from passgate.errors import InvalidInput
from passgate.jobs.partner_http import PartnerClient, PartnerError, RetryPolicy

from .models import GuestTicket, IssueBatch, Location, QrStyle

logger = logging.getLogger("passgate.guest.delivery")


# ---------------------------------------------------------------- phone numbers

def normalise_phone(value: str, *, field: str = "user_id", region: str | None = None) -> str:
    """E.164 (+33612345678), or a clear error."""
    region = region or settings.GUEST_SMS_REGION
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput("not a valid mobile number", field=field,
                           expected=f"a phone number such as +33 6 12 34 56 78 (without a country code, read as {region})",
                           found=value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------- what the slip says

def _escape_wifi(text: str) -> str:
    for ch in '\\;,:"':
        text = text.replace(ch, "\\" + ch)
    return text


def qr_payload(ticket: GuestTicket, location: Location) -> str:
    """WIFI: for a PSK network (joins it), or the portal URL carrying the credentials."""
    if location.qr_style == QrStyle.WIFI_PSK:
        return f"WIFI:T:WPA;S:{_escape_wifi(location.ssid)};P:{_escape_wifi(location.wifi_password)};;"
    parts = urlsplit(location.portal_url)
    query = "&".join(filter(None, [parts.query, urlencode({"username": ticket.username,
                                                             "password": ticket.password})]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def validity_text(ticket: GuestTicket, location: Location) -> str:
    zone = zoneinfo.ZoneInfo(location.time_zone)
    fmt = "%d/%m/%Y %H:%M"
    if ticket.expires_at is None and ticket.duration is not None:
        return f"{_duration(ticket.duration.total_seconds())} from the first login"
    text = ""
    if ticket.valid_from:
        text = f"from {ticket.valid_from.astimezone(zone).strftime(fmt)} "
    if ticket.expires_at:
        text += f"until {ticket.expires_at.astimezone(zone).strftime(fmt)}"
    return text or "unlimited"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minute(s)"


def slip_lines(ticket: GuestTicket) -> list[tuple[str, str]]:
    location = ticket.location
    return [("Network (SSID)", location.ssid), ("Username", ticket.username), ("Password", ticket.password),
            ("Valid", validity_text(ticket, location)),
            ("Devices", str(ticket.devices)), ("Ticket", ticket.serial)]


# ---------------------------------------------------------------- PDF

def slip_pdf(tickets: list[GuestTicket]) -> bytes:
    """One page per ticket: credentials, validity, SSID, and the QR code."""
    from reportlab.lib.pagesizes import A6
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A6, invariant=True)
    width, height = A6
    for ticket in tickets:
        location = ticket.location
        pdf.setTitle("WiFi access")
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(10 * mm, height - 14 * mm, f"WiFi access — {location.name}")
        y = height - 24 * mm
        for label, value in slip_lines(ticket):
            pdf.setFont("Helvetica", 8)
            pdf.drawString(10 * mm, y, label)
            pdf.setFont("Courier-Bold" if label in ("Username", "Password") else "Helvetica-Bold", 11)
            pdf.drawString(38 * mm, y, value)
            y -= 7 * mm
        png = io.BytesIO()
        segno.make(qr_payload(ticket, location), error="m").save(png, kind="png", scale=6, border=2)
        png.seek(0)
        size = 45 * mm
        pdf.drawImage(ImageReader(png), (width - size) / 2, 8 * mm, size, size)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


# ---------------------------------------------------------------- e-mail

def send_email(ticket: GuestTicket, recipient: str | None = None) -> str:
    """The credentials by e-mail (text and HTML) with the slip attached; returns the address."""
    recipient = (recipient or ticket.user_id or "").strip()
    if "@" not in recipient or " " in recipient:
        raise InvalidInput("this ticket has no e-mail address to send to", field="user_id",
                           expected="name@example.org", found=recipient or "nothing")
    if not ticket.location.deliver_email:
        raise InvalidInput("this location does not deliver by e-mail", field="channel",
                           expected="a channel the location offers", found="EMAIL")
    lines = slip_lines(ticket)
    text = "Your WiFi access\n\n" + "\n".join(f"{label}: {value}" for label, value in lines) + "\n"
    html = ("<h1>Your WiFi access</h1><table>" + "".join(
        f"<tr><th align='left'>{escape(label)}</th><td><b>{escape(value)}</b></td></tr>" for label, value in lines)
        + "</table>")
    message = EmailMultiAlternatives(subject=f"Your WiFi access — {ticket.location.name}", body=text,
                                     to=[recipient])
    message.attach_alternative(html, "text/html")
    message.attach(f"wifi-{ticket.serial}.pdf", slip_pdf([ticket]), "application/pdf")
    message.send()
    return recipient


# ---------------------------------------------------------------- SMS

def sms_text(ticket: GuestTicket) -> str:
    return (f"WiFi {ticket.location.ssid}: user {ticket.username} password {ticket.password}, valid "
            f"{validity_text(ticket, ticket.location)}.")


class ConsoleSms:
    """Development: the message is printed, nothing leaves the machine."""

    def send(self, to: str, text: str) -> str:
        sys.stdout.write(f"[SMS to {to}] {text}\n")
        return "console"


class SmsGateway(PartnerClient):
    partner = "sms"


class HttpSms:
    """An HTTP SMS gateway: POST {url}/messages {"to", "from", "text"} with X-Api-Key; answers {"id"}."""

    def __init__(self, url: str, key: str, sender: str) -> None:
        self.url, self.key, self.sender = url, key, sender

    def send(self, to: str, text: str) -> str:
        # POST is not repeated blindly: a message sent twice is a message the guest gets twice.
        with SmsGateway(self.url, headers={"X-Api-Key": self.key}, secrets=[self.key], read_timeout=10,
                        retry=RetryPolicy(max_attempts=2)) as client:
            response = client.request("POST", "/messages", json={"to": to, "from": self.sender, "text": text})
        return str(response.json().get("id", ""))


def sms_backend():
    if settings.GUEST_SMS_BACKEND == "http":
        return HttpSms(settings.GUEST_SMS_URL, settings.GUEST_SMS_KEY, settings.GUEST_SMS_SENDER)
    return ConsoleSms()


def send_sms(ticket: GuestTicket, number: str | None = None) -> str:
    """The credentials by SMS to the ticket's mobile (or `number`); returns the E.164 number."""
    if not ticket.location.deliver_sms:
        raise InvalidInput("this location does not deliver by SMS", field="channel",
                           expected="a channel the location offers", found="SMS")
    to = normalise_phone(number or ticket.user_id or "", field="user_id")
    sms_backend().send(to, sms_text(ticket))
    return to


def deliver(ticket: GuestTicket, channel: str, to: str | None = None) -> str:
    """Send the ticket by EMAIL or SMS; returns the address or number it went to."""
    if channel == "EMAIL":
        return send_email(ticket, to)
    if channel == "SMS":
        return send_sms(ticket, to)
    raise InvalidInput("unknown delivery channel", field="channel", expected="EMAIL or SMS", found=channel)


def check_deliverable(location: Location, channel: str, to: str) -> None:
    """Refuse, before anything is issued, a delivery that cannot work: a channel the location does
    not offer, or a recipient that is not an e-mail address / a valid mobile number."""
    if channel == "EMAIL":
        if not location.deliver_email:
            raise InvalidInput("this location does not deliver by e-mail", field="deliver",
                               expected="a channel the location offers", found="EMAIL")
        if "@" not in to or " " in to.strip():
            raise InvalidInput("delivery by e-mail needs the recipient's address in user_id", field="user_id",
                               expected="name@example.org", found=to or "nothing")
    elif channel == "SMS":
        if not location.deliver_sms:
            raise InvalidInput("this location does not deliver by SMS", field="deliver",
                               expected="a channel the location offers", found="SMS")
        normalise_phone(to, field="user_id")
    else:
        raise InvalidInput("unknown delivery channel", field="deliver", expected="EMAIL or SMS", found=channel)


def deliver_once(batch: IssueBatch, ticket: GuestTicket, channels: list[str]) -> list[str]:
    """Send the ticket by each channel not yet recorded on its batch, and record it: a request
    retried with the same client reference completes a delivery that failed, and never repeats
    one that worked. Each channel is sent under the batch's row lock, so two retries at once send
    once. Returns the addresses/numbers sent to by this call."""
    sent = []
    for channel in dict.fromkeys(channels):
        with transaction.atomic():
            locked = IssueBatch.objects.select_for_update().get(pk=batch.pk)
            if channel in locked.delivered:
                continue
            try:
                sent.append(deliver(ticket, channel))
            except (smtplib.SMTPException, OSError) as exc:
                raise PartnerError(f"the e-mail could not be sent ({exc}); the ticket is issued: repeat the request "
                                   "with the same client_reference to send it", field="deliver") from None
            locked.delivered = [*locked.delivered, channel]
            locked.save(update_fields=["delivered"])
    return sent
