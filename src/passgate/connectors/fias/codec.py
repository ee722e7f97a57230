"""The FIAS wire format (Oracle OPERA / Suite8 IFC8 style), and nothing else knows it.

A frame is STX (0x02) + record + ETX (0x03); a record is `ID|FFvalue|FFvalue|…|` with a 2-letter
record id and 2-character field ids (letters, digits or `#`, as in `G#`, `P#`).

Encoding: FIAS is 8-bit. A link is UTF-8 (the default: OPERA sends UTF-8 when its interface is set
so) or latin-1 (older Suite8 / Fidelio set-ups); `Decoder(encoding=…)` and `encode(…, encoding=…)`
take it from the link's configuration. Bytes that are not valid in that encoding make a decode error.

Records are typed by SPECS: the fields each known record must carry, and the format of the fields
with a known meaning (DA yymmdd, TI hhmmss, GA/GD yymmdd, TA a number of cents). A record id not in
SPECS is refused on decode. Typed accessors (`date`, `time`, `cents`) read values back.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from passgate.errors import InvalidInput

STX, ETX = b"\x02", b"\x03"
ENCODINGS = ("utf-8", "latin-1")
# A frame longer than this with no ETX is garbage, not a record still coming.
MAX_FRAME = 8192

RECORD_ID = re.compile(r"[A-Z]{2}")
FIELD_ID = re.compile(r"[A-Z0-9#]{2}")


@dataclass(frozen=True)
class RecordSpec:
    name: str
    required: tuple[str, ...] = ()


SPECS: dict[str, RecordSpec] = {
    "LS": RecordSpec("link start", ("DA", "TI")),
    "LD": RecordSpec("link description", ("DA", "TI", "V#", "IF")),
    "LR": RecordSpec("link record", ("RI", "FL")),
    "LA": RecordSpec("link alive"),
    "LE": RecordSpec("link end"),
    "GI": RecordSpec("guest check-in", ("RN", "G#")),
    "GC": RecordSpec("guest change", ("RN", "G#")),
    "GO": RecordSpec("guest check-out", ("RN", "G#")),
    "PS": RecordSpec("posting simple", ("P#", "RN", "TA")),
    "PA": RecordSpec("posting answer", ("P#", "AS")),
    "DR": RecordSpec("database resync request"),
    "DS": RecordSpec("database resync start"),
    "DE": RecordSpec("database resync end"),
}

# Formats of the fields whose meaning passgate uses: name → (regex, what is expected).
FORMATS: dict[str, tuple[re.Pattern, str]] = {
    "DA": (re.compile(r"\d{6}"), "a date yymmdd"),
    "GA": (re.compile(r"\d{6}"), "a date yymmdd"),
    "GD": (re.compile(r"\d{6}"), "a date yymmdd"),
    "TI": (re.compile(r"\d{6}"), "a time hhmmss"),
    "TA": (re.compile(r"-?\d{1,12}"), "an amount in cents (digits)"),
}


class DecodeError(InvalidInput):
    """A frame that is not a valid record: names the record and the field at fault."""


class EncodeError(InvalidInput):
    """A record that cannot be put on the wire."""


@dataclass(frozen=True)
class Record:
    kind: str
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def make(cls, kind: str, **values: object) -> Record:
        """Record.make("GI", RN="101", G_="4711") — `_` in a keyword stands for `#`."""
        return cls(kind, tuple((k.replace("_", "#"), str(v)) for k, v in values.items() if v is not None))

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def __contains__(self, name: str) -> bool:
        return any(key == name for key, _ in self.fields)

    def date(self, name: str) -> dt.date | None:
        value = self.get(name)
        if not value:
            return None
        try:
            return dt.datetime.strptime(value, "%y%m%d").date()
        except ValueError:
            raise DecodeError(f"{self.kind} record: not a date", field=name, expected="yymmdd",
                              found=value) from None

    def time(self, name: str) -> dt.time | None:
        value = self.get(name)
        if not value:
            return None
        try:
            return dt.datetime.strptime(value, "%H%M%S").time()
        except ValueError:
            raise DecodeError(f"{self.kind} record: not a time", field=name, expected="hhmmss",
                              found=value) from None

    def cents(self, name: str) -> int:
        return int(self.get(name) or 0)

    def __str__(self) -> str:
        return self.kind + "|" + "".join(f"{k}{v}|" for k, v in self.fields)


@dataclass(frozen=True)
class Skipped:
    """Bytes the decoder threw away, and why (garbage between frames, or a frame that is no record)."""

    data: bytes
    reason: str


def _check_value(kind: str, name: str, value: str) -> None:
    bad = [c for c in value if c == "|" or ord(c) < 32 or ord(c) == 127]
    if bad:
        raise EncodeError(f"{kind} record: a value cannot hold '|' or control characters", field=name,
                          expected="text without '|' or control characters", found=repr(value))


def encode_record(record: Record, encoding: str = "utf-8") -> bytes:
    """The record's body (no STX/ETX)."""
    if not RECORD_ID.fullmatch(record.kind):
        raise EncodeError("a record id is two capital letters", field="record", expected="e.g. GI",
                          found=repr(record.kind))
    for name, value in record.fields:
        if not FIELD_ID.fullmatch(name):
            raise EncodeError(f"{record.kind} record: a field id is two characters A-Z, 0-9 or #", field=name,
                              expected="e.g. RN, G#", found=repr(name))
        _check_value(record.kind, name, value)
    try:
        return str(record).encode(encoding)
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{record.kind} record: a value does not fit the link's encoding", field="encoding",
                          expected=encoding, found=repr(exc.object[exc.start:exc.end])) from None


def encode(record: Record, encoding: str = "utf-8") -> bytes:
    """One framed record, ready for the socket."""
    return STX + encode_record(record, encoding) + ETX


def decode_record(body: bytes, encoding: str = "utf-8") -> Record:
    """A record from a frame's body (no STX/ETX). Checks the record id, the fields each record
    type requires, and the format of the fields passgate reads."""
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        raise DecodeError("a frame is not valid text in the link's encoding", field="encoding", expected=encoding,
                          found=repr(body[:40])) from None
    kind = text[:2]
    if not RECORD_ID.fullmatch(kind) or text[2:3] != "|":
        raise DecodeError("a record starts with a 2-letter id and '|'", field="record", expected="e.g. GI|",
                          found=repr(text[:10]))
    if kind not in SPECS:
        raise DecodeError("unknown record id", field="record", expected=", ".join(SPECS), found=kind)
    rest = text[3:]
    if rest and not rest.endswith("|"):
        raise DecodeError(f"{kind} record: the last field is not closed by '|'", field="record",
                          expected="…|", found=repr(rest[-20:]))
    fields = []
    for part in rest.split("|")[:-1] if rest else []:
        name, value = part[:2], part[2:]
        if not FIELD_ID.fullmatch(name):
            raise DecodeError(f"{kind} record: a field id is two characters A-Z, 0-9 or #", field=name or "field",
                              expected="e.g. RN, G#", found=repr(part))
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise DecodeError(f"{kind} record: control character in a value", field=name,
                              expected="printable text", found=repr(value))
        fmt = FORMATS.get(name)
        if fmt and value and not fmt[0].fullmatch(value):
            raise DecodeError(f"{kind} record: bad value", field=name, expected=fmt[1], found=value)
        fields.append((name, value))
    record = Record(kind, tuple(fields))
    for name in SPECS[kind].required:
        if name not in record:
            raise DecodeError(f"{kind} record ({SPECS[kind].name}): field missing", field=name,
                              expected=f"{name}…|", found=str(record))
    return record


def decode(frame: bytes, encoding: str = "utf-8") -> Record:
    """One framed record."""
    if not (frame.startswith(STX) and frame.endswith(ETX)):
        raise DecodeError("a frame is STX … ETX", field="frame", expected="0x02 … 0x03", found=repr(frame[:20]))
    return decode_record(frame[1:-1], encoding)


class Decoder:
    """Bytes in, records out: partial frames are kept for the next feed; bytes outside frames and
    frames that are no record are given back as Skipped (garbage is reported once, when the next STX
    shows where it ends, so how the bytes were split never changes what comes out)."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Record | Skipped]:
        self._buffer += data
        out: list[Record | Skipped] = []
        while True:
            start = self._buffer.find(STX)
            if start < 0:
                if len(self._buffer) > MAX_FRAME:
                    out.append(Skipped(bytes(self._buffer), "bytes outside a frame"))
                    self._buffer.clear()
                return out  # garbage so far, reported once its end is known
            if start > 0:
                out.append(Skipped(bytes(self._buffer[:start]), "bytes outside a frame"))
                del self._buffer[:start]
            # a second STX before the ETX: the first frame was cut, restart at the new one
            end = self._buffer.find(ETX, 1)
            restart = self._buffer.find(STX, 1)
            if restart > 0 and (end < 0 or restart < end):
                out.append(Skipped(bytes(self._buffer[:restart]), "frame cut by a new STX"))
                del self._buffer[:restart]
                continue
            if end < 0:
                if len(self._buffer) > MAX_FRAME:
                    out.append(Skipped(bytes(self._buffer), f"no ETX within {MAX_FRAME} bytes"))
                    self._buffer.clear()
                return out
            body = bytes(self._buffer[1:end])
            del self._buffer[:end + 1]
            try:
                out.append(decode_record(body, self.encoding))
            except DecodeError as exc:
                detail = "".join(f"; {k} {v}" for k, v in (("expected", exc.expected), ("found", exc.found)) if v)
                out.append(Skipped(STX + body + ETX, f"{exc}{detail}"))

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer)


def link_date_time(now: dt.datetime) -> dict[str, str]:
    """DA and TI of a link record, in the time the caller gives (the PMS's local time)."""
    return {"DA": now.strftime("%y%m%d"), "TI": now.strftime("%H%M%S")}
