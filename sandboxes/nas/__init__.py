"""The NAS stand-in: a hotspot controller speaking real RADIUS over UDP (pyrad).

- logs guests in through FreeRADIUS (Access-Request, PAP or CHAP) and keeps their sessions;
- sends accounting Start / Interim-Update / Stop (octet counts split into gigawords);
- listens on a loopback UDP port for Disconnect-Request and CoA-Request (RFC 5176): a known
  session is ended (Accounting-Stop, Admin-Reset) or has its limits changed, and answered ACK;
  an unknown one is answered NAK with Error-Cause 503 Session-Context-Not-Found.

Unlike the HTTP sandboxes it runs in a thread of its caller (tests, `passgate guest nas-sim`).
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrad import packet
from pyrad.client import Client
from pyrad.dictionary import Dictionary

DICTIONARY_FILE = Path(__file__).resolve().parents[2] / "src" / "passgate" / "guest" / "radius.dictionary"
GIGAWORD = 2**32
SESSION_CONTEXT_NOT_FOUND = 503


def _dictionary_path() -> str:
    if DICTIONARY_FILE.exists():
        return str(DICTIONARY_FILE)
    from passgate.guest.coa import DICTIONARY_FILE as installed  # an installed passgate, not a checkout

    return str(installed)


@dataclass
class Session:
    username: str
    mac: str
    session_id: str
    started: float = field(default_factory=time.monotonic)
    input_octets: int = 0
    output_octets: int = 0
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    code: str
    attributes: dict[str, list[Any]]


CODES = {packet.AccessAccept: "Access-Accept", packet.AccessReject: "Access-Reject",
         packet.AccessChallenge: "Access-Challenge", packet.AccountingResponse: "Accounting-Response"}


class NasStandIn:
    def __init__(self, secret: str, auth_port: int, acct_port: int, *, radius_host: str = "127.0.0.1",
                 nas_ip: str = "127.0.0.1", coa_port: int = 0, timeout: float = 5.0) -> None:
        self.secret = secret.encode()
        self.radius_host, self.auth_port, self.acct_port = radius_host, auth_port, acct_port
        self.nas_ip, self.timeout = nas_ip, timeout
        self.dictionary = Dictionary(_dictionary_path())
        self.sessions: dict[str, Session] = {}
        self.received: list[dict[str, Any]] = []  # every Disconnect/CoA-Request, as it came
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", coa_port))
        self.coa_port = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------ towards FreeRADIUS
    def _client(self) -> Client:
        client = Client(server=self.radius_host, authport=self.auth_port, acctport=self.acct_port,
                        secret=self.secret, dict=self.dictionary)
        client.timeout, client.retries = self.timeout, 2
        return client

    def login(self, username: str, password: str, mac: str, *, chap: bool = False) -> Answer:
        client = self._client()
        request = client.CreateAuthPacket(code=packet.AccessRequest)
        request["User-Name"] = username
        request["NAS-IP-Address"] = self.nas_ip
        request["Calling-Station-Id"] = mac
        if chap:
            request.authenticator = request.CreateAuthenticator()
            chap_id = bytes([next(self._ids) % 256])
            digest = hashlib.md5(chap_id + password.encode() + request.authenticator).digest()
            request["CHAP-Password"] = chap_id + digest
        else:
            request["User-Password"] = request.PwCrypt(password)
        reply = client.SendPacket(request)
        return Answer(CODES.get(reply.code, str(reply.code)), {k: reply[k] for k in reply.keys()})

    def _account(self, status: str, session: Session, **extra: Any) -> Answer:
        client = self._client()
        request = client.CreateAcctPacket()
        request["Acct-Status-Type"] = status
        request["User-Name"] = session.username
        request["Acct-Session-Id"] = session.session_id
        request["NAS-IP-Address"] = self.nas_ip
        request["Calling-Station-Id"] = session.mac
        request["Acct-Session-Time"] = int(time.monotonic() - session.started)
        for name, total in (("Input", session.input_octets), ("Output", session.output_octets)):
            request[f"Acct-{name}-Octets"] = total % GIGAWORD
            request[f"Acct-{name}-Gigawords"] = total // GIGAWORD
        for name, value in extra.items():
            request[name] = value
        reply = client.SendPacket(request)
        return Answer(CODES.get(reply.code, str(reply.code)), {})

    def connect(self, username: str, password: str, mac: str, *, chap: bool = False) -> tuple[Answer, Session | None]:
        """Log a guest in and, when accepted, start its accounting session."""
        answer = self.login(username, password, mac, chap=chap)
        if answer.code != "Access-Accept":
            return answer, None
        session = Session(username, mac, f"{self.nas_ip}-{next(self._ids):08x}", limits=answer.attributes)
        with self._lock:
            self.sessions[session.session_id] = session
        self._account("Start", session, **{"Acct-Interim-Interval": 60})
        return answer, session

    def traffic(self, session: Session, upload: int, download: int) -> Answer:
        """The guest used more: an Interim-Update with the new totals."""
        session.input_octets += upload
        session.output_octets += download
        return self._account("Interim-Update", session)

    def disconnect(self, session: Session, cause: str = "User-Request") -> Answer | None:
        with self._lock:
            if self.sessions.pop(session.session_id, None) is None:
                return None
        return self._account("Stop", session, **{"Acct-Terminate-Cause": cause})

    def reboot(self) -> Answer:
        """Accounting-On: the controller came back and has no session any more."""
        with self._lock:
            self.sessions.clear()
        client = self._client()
        request = client.CreateAcctPacket()
        request["Acct-Status-Type"] = "Accounting-On"
        request["NAS-IP-Address"] = self.nas_ip
        request["Acct-Session-Id"] = "0"
        return Answer(CODES.get(client.SendPacket(request).code, "?"), {})

    # ------------------------------------------------------------ Disconnect / CoA from passgate
    def start(self) -> NasStandIn:
        self._socket.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name="nas-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                request = packet.CoAPacket(packet=data, secret=self.secret, dict=self.dictionary)
            except packet.PacketError:
                continue
            if not request.VerifyCoARequest():
                continue  # a wrong shared secret: a real NAS stays silent
            self._socket.sendto(self._answer(request).ReplyPacket(), peer)

    def _answer(self, request: packet.CoAPacket) -> packet.Packet:
        attributes = {k: request[k] for k in request.keys()}
        self.received.append({"code": request.code, **attributes})
        session_id = (attributes.get("Acct-Session-Id") or [""])[0]
        with self._lock:
            session = self.sessions.get(session_id)
        if session is not None and attributes.get("User-Name", [session.username])[0] != session.username:
            session = None
        disconnect = request.code == packet.DisconnectRequest
        reply = request.CreateReply()
        if session is None:
            reply.code = packet.DisconnectNAK if disconnect else packet.CoANAK
            reply["Error-Cause"] = SESSION_CONTEXT_NOT_FOUND
            return reply
        if disconnect:
            # the guest is cut; the controller reports the end of the session
            threading.Thread(target=self.disconnect, args=(session, "Admin-Reset"), daemon=True).start()
            reply.code = packet.DisconnectACK
        else:
            session.limits.update({k: v for k, v in attributes.items() if k not in {"User-Name", "Acct-Session-Id",
                                                                                       "NAS-IP-Address",
                                                                                       "Calling-Station-Id"}})
            reply.code = packet.CoAACK
        return reply
