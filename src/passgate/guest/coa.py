"""The RFC 5176 sender: carries the pending Disconnect- and CoA-Requests (services.sessions_to_cut) to
each session's NAS over UDP with its shared secret, and records each ACK, NAK (with its
Error-Cause) or timeout (retried by the next run until services.MAX_DISCONNECT_ATTEMPTS)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from . import services
from .models import RequestKind

DICTIONARY_FILE = Path(__file__).with_name("radius.dictionary")
_dictionary: Dictionary | None = None


def dictionary() -> Dictionary:
    global _dictionary
    if _dictionary is None:
        _dictionary = Dictionary(str(DICTIONARY_FILE))
    return _dictionary


def disconnect(order: services.DisconnectOrder, *, timeout: float = 1.0, retries: int = 2) -> tuple[str, int | None]:
    """One Disconnect-Request, or CoA-Request for an order of kind COA (resent `retries` times on
    silence): ("ACK"|"NAK"|"TIMEOUT", Error-Cause)."""
    client = Client(server=order.nas_host, coaport=order.port, secret=order.secret.encode(), dict=dictionary())
    client.timeout, client.retries = timeout, retries + 1
    code = packet.CoARequest if order.kind == RequestKind.COA else packet.DisconnectRequest
    request = client.CreateCoAPacket(code=code)
    for name, value in order.attributes.items():
        if value is not None and value != "":  # 0 is a value (octets at a multiple of 4 GiB)
            request[name] = value
    try:
        reply = client.SendPacket(request)
    except (Timeout, OSError):
        return "TIMEOUT", None
    return ("ACK" if reply.code in {packet.DisconnectACK, packet.CoAACK} else "NAK"), error_cause(reply)


def error_cause(reply: packet.Packet) -> int | None:
    """Error-Cause as a number, whichever way pyrad decoded it (number, named value, raw bytes)."""
    if "Error-Cause" not in reply:
        return None
    cause = reply["Error-Cause"][0]
    if isinstance(cause, str):  # a named value; pyrad's dictionary holds its wire encoding
        cause = dictionary()["Error-Cause"].values.GetForward(cause)
    if isinstance(cause, bytes):
        return int.from_bytes(cause, "big")
    return int(cause)


def send_pending(organisation=None, *, timeout: float = 1.0, retries: int = 2) -> Counter:
    """Send every pending Disconnect-Request and CoA-Request (of one organisation, or all); counts by answer."""
    answers: Counter = Counter()
    for order in services.sessions_to_cut(organisation):
        answer, cause = disconnect(order, timeout=timeout, retries=retries)
        services.record_disconnect_answer(order.disconnect_id, answer, cause)
        answers[answer] += 1
    return answers
