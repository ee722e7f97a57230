"""The FIAS link to one hotel PMS: passgate is the interface side and connects to the PMS as a TCP
client. It answers LS with LD, the LR records it wants and LA; asks a resync (DR) each time the
link comes up and reconciles the in-house list (DS … DE); sends LA as keep-alive; sends postings
(PS) while the link is up — buffered while it is down or after LE, re-sent with the same P# after a
reconnect until PA answers — and reconnects with backoff after a drop.

`run_link(interface, stop_event)` is the whole thing as one coroutine (tests run it in a thread
against the stand-in; `passgate pms` runs one per link). Database work runs in sync_to_async.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import zoneinfo
from dataclasses import dataclass, field, replace

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections
from django.utils import timezone

from . import services
from .codec import Decoder, Record, Skipped, encode, link_date_time
from .models import PmsLink

log = logging.getLogger("passgate.fias")

INTERFACE_VERSION = "passgate-1"
INTERFACE_FAMILY = "WW"  # IFC8's family code for Internet / WiFi interfaces
# What passgate asks the PMS to send, and the fields of each (LR records).
WANTED = [
    ("GI", "RNG#GNGFGLGAGD"),
    ("GO", "RNG#"),
    ("GC", "RNG#GNGFGLGAGDRO"),
    ("PA", "P#ASRNDATICT"),
    ("DS", "DATI"),
    ("DE", "DATI"),
]


@dataclass(frozen=True)
class Interface:
    """What the link process needs of one PmsLink (read once at start)."""

    link_id: int
    host: str
    port: int
    encoding: str = "utf-8"
    time_zone: str = "UTC"
    keepalive: float = 60.0
    poll: float = 1.0  # how often to look for new postings while the link is up
    connect_timeout: float = 10.0
    backoff_min: float = 1.0
    backoff_max: float = 30.0

    @classmethod
    def of(cls, link: PmsLink, **overrides) -> Interface:
        base = cls(link_id=link.pk, host=link.host, port=link.port, encoding=link.encoding,
                   time_zone=link.location.time_zone, keepalive=float(link.keepalive_seconds))
        return replace(base, **overrides)


@dataclass
class _State:
    up: bool = False  # LS answered and no LE since: postings may go out
    resync: set[str] | None = None  # reservations listed since DS
    last_heard: float = field(default_factory=time.monotonic)
    last_sent_alive: float = 0.0
    last_poll: float = 0.0


def _load(link_id: int) -> PmsLink:
    return PmsLink.objects.select_related("organisation", "location", "access_method").get(pk=link_id)


def _db(fn, *args):
    """Run `fn(link, *args)` with a fresh PmsLink, in a thread (Django's ORM is synchronous)."""
    def call():
        close_old_connections()
        return fn(_load(args[0]), *args[1:]) if fn is not None else None
    return sync_to_async(call, thread_sensitive=True)()


async def _call(fn, *args, **kwargs):
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


async def run_link(interface: Interface, stop_event: asyncio.Event) -> None:
    """Hold the link until stop_event is set: connect, serve, and after a drop wait (1 s, 2 s, 4 s …
    up to backoff_max) and connect again."""
    backoff = interface.backoff_min
    while not stop_event.is_set():
        error = ""
        started = time.monotonic()
        try:
            await _serve(interface, stop_event)
        except (TimeoutError, OSError, ConnectionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("fias link %s (%s:%s): %s", interface.link_id, interface.host, interface.port, error)
        except Exception as exc:  # a bug must not end the process: log, reconnect
            error = f"{type(exc).__name__}: {exc}"
            log.exception("fias link %s: unexpected error", interface.link_id)
        await _call(services.mark_connected, interface.link_id, False, error)
        if stop_event.is_set():
            break
        if time.monotonic() - started > 2 * interface.backoff_max:
            backoff = interface.backoff_min  # it held for a while: start the backoff over
        log.info("fias link %s: reconnecting in %.1f s", interface.link_id, backoff)
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=backoff)
        except TimeoutError:
            pass
        backoff = min(backoff * 2, interface.backoff_max)
    # the ORM thread's connection goes with the link (a database is not left held by a stopped process)
    await _call(connections.close_all)


async def _serve(interface: Interface, stop_event: asyncio.Event) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(interface.host, interface.port),
                                            timeout=interface.connect_timeout)
    log.info("fias link %s: connected to %s:%s", interface.link_id, interface.host, interface.port)
    await _call(services.mark_connected, interface.link_id, True)
    decoder = Decoder(interface.encoding)
    state = _State()
    zone = zoneinfo.ZoneInfo(interface.time_zone)

    async def send(record: Record) -> None:
        writer.write(encode(record, interface.encoding))
        await writer.drain()
        log.debug("fias link %s: sent %s", interface.link_id, record)

    def stamp() -> dict[str, str]:
        return link_date_time(dt.datetime.now(zone))

    try:
        while not stop_event.is_set():
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=interface.poll)
            except TimeoutError:
                data = None
            if data == b"":
                raise ConnectionError("the PMS closed the link")
            if data:
                state.last_heard = time.monotonic()
                for item in decoder.feed(data):
                    if isinstance(item, Skipped):
                        log.warning("fias link %s: skipped %r: %s", interface.link_id, item.data[:80], item.reason)
                        continue
                    try:
                        await _handle(interface, state, item, send, stamp)
                    except (OSError, ConnectionError):
                        raise
                    except Exception:  # one bad record must not cost the link
                        log.exception("fias link %s: could not process %s", interface.link_id, item)
            now = time.monotonic()
            if now - state.last_heard > 3 * interface.keepalive:
                raise ConnectionError(f"nothing from the PMS for {3 * interface.keepalive:.0f} s")
            if state.up and now - state.last_sent_alive >= interface.keepalive:
                await send(Record.make("LA", **stamp()))
                state.last_sent_alive = now
            if state.up and now - state.last_poll >= interface.poll:
                state.last_poll = now
                await _send_postings(interface, send, resend=False)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), timeout=2)
        except (TimeoutError, OSError, ConnectionError):
            pass


async def _send_postings(interface: Interface, send, *, resend: bool) -> None:
    postings = await _call(services.postings_to_send, interface.link_id, resend=resend)
    for posting in postings:
        record = await _call(services.posting_record, posting, timezone.now())
        await send(record)
        await _call(services.mark_sent, posting.pk)
        log.info("fias link %s: posting P#%s sent (room %s, %s cents)", interface.link_id, posting.sequence,
                 posting.room_number, posting.amount_cents)


async def _handle(interface: Interface, state: _State, rec: Record, send, stamp) -> None:
    link_id = interface.link_id
    kind = rec.kind
    log.info("fias link %s: received %s", link_id, rec)
    if kind == "LS":
        await send(Record.make("LD", **stamp(), V_=INTERFACE_VERSION, IF=INTERFACE_FAMILY))
        for record_id, fields in WANTED:
            await send(Record.make("LR", RI=record_id, FL=fields))
        await send(Record.make("LA", **stamp()))
        state.up, state.last_sent_alive = True, time.monotonic()
        await send(Record.make("DR", **stamp()))
        await _send_postings(interface, send, resend=True)  # unanswered ones again, same P#
    elif kind == "LA":
        await _call(services.mark_alive, link_id)
    elif kind == "LE":
        state.up = False  # the PMS ends the link: postings wait for the next LS
    elif kind == "DS":
        state.resync = set()
    elif kind == "DE":
        if state.resync is not None:
            gone = await _db(services.reconcile, link_id, state.resync)
            log.info("fias link %s: resync: %d in house, checked out %s", link_id, len(state.resync), gone or "none")
        state.resync = None
    elif kind == "GI":
        if state.resync is not None:
            state.resync.add(rec.get("G#").strip())
        await _db(services.check_in, link_id, rec)
    elif kind == "GC":
        await _db(services.change, link_id, rec)
    elif kind == "GO":
        await _db(services.check_out, link_id, rec)
    elif kind == "PA":
        await _db(services.posting_answer, link_id, rec)
