"""A hotel PMS stand-in speaking FIAS over TCP (asyncio), with an HTTP control port.

The FIAS side listens on 127.0.0.1:`fias_port` (0 = a free one; `--port` is the HTTP control port,
FIAS listens on DEFAULT_FIAS_PORT unless told). When the interface (passgate) connects it sends LS,
takes LD/LR/LA, answers each LA with LA, answers DR with a resync (DS, one GI per in-house guest, DE),
and answers each PS with PA — OK, a refusal, or nothing yet (held) as the control port says. A PS with
a P# it has booked already is answered again but booked once, as a PMS does.

Control (JSON bodies): POST /pms/checkin {room, reservation, last_name, first_name?, departure?
yymmdd, language?}; /pms/checkout {reservation}; /pms/move {reservation, room}; /pms/answers {mode:
OK|REFUSE|HOLD, code?, text?}; /pms/release {} (send PA for held postings with the current mode);
/pms/drop {} (close the link); /pms/down {down: bool} (refuse connections); /pms/resync {};
/pms/raw {hex} (bytes as they are); /pms/end {} (send LE). GET /_sandbox/state shows it all
(in_house, received, postings, booked, connected, fias_port).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..framework import HOST, SandboxState
from ..framework import create_app as create_sandbox_app
from .wire import Frames, encode
from .wire import Rec as Record

DEFAULT_FIAS_PORT = 8116


def _initial() -> dict[str, Any]:
    return {"in_house": {}, "received": [], "postings": [], "booked": {}, "held": [],
            "answers": {"mode": "OK", "code": "NG", "text": "refused"}, "connections": 0, "connected": False,
            "linked": False, "skipped": []}


def _stamp() -> dict[str, str]:
    now = dt.datetime.now()
    return {"DA": now.strftime("%y%m%d"), "TI": now.strftime("%H%M%S")}


class PmsServer:
    """The FIAS listener, in a thread with its own event loop."""

    def __init__(self, state: SandboxState, port: int, encoding: str = "utf-8") -> None:
        self.state = state
        self.encoding = encoding
        self.down = False
        self.writer: asyncio.StreamWriter | None = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self.thread = threading.Thread(target=self._run, args=(port,), name="sandbox-pms-fias", daemon=True)
        self.thread.start()
        self._ready.wait(10)
        self.port = self._server.sockets[0].getsockname()[1]

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            self._server = await asyncio.start_server(self._client, HOST, port, reuse_address=True)
            self._ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self) -> None:
        async def close():
            if self.writer:
                self.writer.close()
            self._server.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def call(self, coro_fn, *args):
        """Run a coroutine on the listener's loop from the control port's thread."""
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self.loop).result(10)

    # ---------------------------------------------------------------- the link

    async def send(self, record: Record) -> bool:
        if self.writer is None:
            return False
        self.writer.write(encode(record, self.encoding))
        await self.writer.drain()
        return True

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        if self.writer is not None:  # one interface at a time: the newest wins
            self.writer.close()
        self.writer = writer
        with self.state.lock:
            self.state.data["connections"] += 1
            self.state.data["connected"] = True
            self.state.data["linked"] = False
        decoder = Frames(self.encoding)
        try:
            await self.send(Record.make("LS", **_stamp()))
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                for item in decoder.feed(data):
                    if isinstance(item, str):
                        with self.state.lock:
                            self.state.data["skipped"].append(item)
                        continue
                    await self._record(item)
        except (ConnectionError, OSError):
            pass
        finally:
            if self.writer is writer:
                self.writer = None
                with self.state.lock:
                    self.state.data["connected"] = False
                    self.state.data["linked"] = False
            writer.close()

    async def _record(self, rec: Record) -> None:
        data = self.state.data
        with self.state.lock:
            data["received"].append(str(rec))
        if rec.kind == "LA":
            with self.state.lock:
                data["linked"] = True
            await self.send(Record.make("LA", **_stamp()))
        elif rec.kind == "DR":
            await self.resync()
        elif rec.kind == "PS":
            sequence = rec.get("P#")
            with self.state.lock:
                data["postings"].append({"P#": sequence, "RN": rec.get("RN"), "TA": rec.get("TA"),
                                         "G#": rec.get("G#"), "CT": rec.get("CT")})
                hold = data["answers"]["mode"] == "HOLD"
                if hold:
                    data["held"].append(sequence)
            if not hold:
                await self._answer(sequence)

    async def _answer(self, sequence: str) -> None:
        data = self.state.data
        with self.state.lock:
            answers = data["answers"]
            booked = data["booked"].get(sequence)
            if booked is None:
                ok = answers["mode"] != "REFUSE"
                booked = {"P#": sequence, "answer": "OK" if ok else answers["code"], "times": 0}
                data["booked"][sequence] = booked
            booked["times"] += 1
            answer = booked["answer"]
        fields = {"P_": sequence, "AS": answer, **_stamp()}
        if answer != "OK":
            fields["CT"] = self.state.data["answers"].get("text", "")
        await self.send(Record.make("PA", **fields))

    # ---------------------------------------------------------------- control

    def _guest(self, g: dict[str, Any], kind: str = "GI", **extra: str) -> Record:
        return Record.make(kind, RN=g["room"], G_=g["reservation"], GN=g.get("last_name") or None,
                           GF=g.get("first_name") or None, GL=g.get("language") or None,
                           GA=g.get("arrival") or None, GD=g.get("departure") or None, **extra)

    async def resync(self) -> None:
        with self.state.lock:
            guests = list(self.state.data["in_house"].values())
        await self.send(Record.make("DS", **_stamp()))
        for g in guests:
            await self.send(self._guest(g))
        await self.send(Record.make("DE", **_stamp()))

    async def checkin(self, g: dict[str, Any]) -> bool:
        with self.state.lock:
            self.state.data["in_house"][g["reservation"]] = g
        return await self.send(self._guest(g))

    async def checkout(self, reservation: str) -> bool:
        with self.state.lock:
            g = self.state.data["in_house"].pop(reservation)
        return await self.send(Record.make("GO", RN=g["room"], G_=reservation, **_stamp()))

    async def move(self, reservation: str, room: str) -> bool:
        with self.state.lock:
            g = self.state.data["in_house"][reservation]
            old, g["room"] = g["room"], room
        return await self.send(self._guest(g, "GC", RO=old))

    async def release(self) -> int:
        with self.state.lock:
            held, self.state.data["held"] = self.state.data["held"], []
        for sequence in held:
            await self._answer(sequence)
        return len(held)

    async def drop(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        with self.state.lock:
            self.state.data["connected"] = False
            self.state.data["linked"] = False

    async def raw(self, data: bytes) -> bool:
        if self.writer is None:
            return False
        self.writer.write(data)
        await self.writer.drain()
        return True


def create_app(state_file: str | None = None, demo: bool = False, fias_port: int = DEFAULT_FIAS_PORT,
               encoding: str = "utf-8"):
    holder: dict[str, PmsServer] = {}

    async def body(request: Request) -> dict[str, Any]:
        try:
            return await request.json()
        except ValueError:
            return {}

    async def checkin(request: Request):
        g = await body(request)
        missing = [k for k in ("room", "reservation", "last_name") if not g.get(k)]
        if missing:
            return JSONResponse({"error": f"missing {missing}"}, status_code=400)
        g.setdefault("departure", (dt.date.today() + dt.timedelta(days=2)).strftime("%y%m%d"))
        g.setdefault("arrival", dt.date.today().strftime("%y%m%d"))
        return JSONResponse({"sent": holder["pms"].call(holder["pms"].checkin, g)})

    async def checkout(request: Request):
        g = await body(request)
        if g.get("reservation") not in app.state.sandbox.data["in_house"]:
            return JSONResponse({"error": "not in house"}, status_code=404)
        return JSONResponse({"sent": holder["pms"].call(holder["pms"].checkout, g["reservation"])})

    async def move(request: Request):
        g = await body(request)
        if g.get("reservation") not in app.state.sandbox.data["in_house"] or not g.get("room"):
            return JSONResponse({"error": "not in house, or no room"}, status_code=404)
        return JSONResponse({"sent": holder["pms"].call(holder["pms"].move, g["reservation"], str(g["room"]))})

    async def answers(request: Request):
        g = await body(request)
        if g.get("mode") not in ("OK", "REFUSE", "HOLD"):
            return JSONResponse({"error": "mode is OK, REFUSE or HOLD"}, status_code=400)
        with app.state.sandbox.lock:
            app.state.sandbox.data["answers"] = {"mode": g["mode"], "code": g.get("code", "NG"),
                                                 "text": g.get("text", "refused")}
        return JSONResponse(app.state.sandbox.data["answers"])

    async def release(request: Request):
        return JSONResponse({"released": holder["pms"].call(holder["pms"].release)})

    async def drop(request: Request):
        holder["pms"].call(holder["pms"].drop)
        return JSONResponse({"dropped": True})

    async def down(request: Request):
        g = await body(request)
        holder["pms"].down = bool(g.get("down", True))
        if holder["pms"].down:
            holder["pms"].call(holder["pms"].drop)
        return JSONResponse({"down": holder["pms"].down})

    async def resync(request: Request):
        holder["pms"].call(holder["pms"].resync)
        return JSONResponse({"resync": True})

    async def raw(request: Request):
        g = await body(request)
        return JSONResponse({"sent": holder["pms"].call(holder["pms"].raw, bytes.fromhex(g.get("hex", "")))})

    async def end(request: Request):
        return JSONResponse({"sent": holder["pms"].call(holder["pms"].send, Record.make("LE", **_stamp()))})

    routes = [Route(f"/pms/{name}", fn, methods=["POST"]) for name, fn in (
        ("checkin", checkin), ("checkout", checkout), ("move", move), ("answers", answers), ("release", release),
        ("drop", drop), ("down", down), ("resync", resync), ("raw", raw), ("end", end))]
    def inspect(state: SandboxState) -> dict[str, Any]:  # the port survives a /_sandbox/reset
        return {**state.data, "fias_port": holder["pms"].port}

    app = create_sandbox_app("pms", routes, initial=_initial, state_file=state_file, inspect=inspect)
    state: SandboxState = app.state.sandbox
    if demo and not state.data["in_house"]:
        departure = (dt.date.today() + dt.timedelta(days=3)).strftime("%y%m%d")
        for room, reservation, last, first in (("101", "R1001", "Martin", "Camille"),
                                               ("102", "R1002", "Dubois", "Hugo")):
            state.data["in_house"][reservation] = {"room": room, "reservation": reservation, "last_name": last,
                                                   "first_name": first, "departure": departure}
    holder["pms"] = PmsServer(state, fias_port, encoding)
    app.state.pms = holder["pms"]
    app.state.stop_hooks = [holder["pms"].stop]
    return app
