"""The stand-in's own FIAS framing, written apart from passgate's codec on purpose: a PMS that
shared passgate's codec would agree with its bugs. STX record ETX; record `ID|FFvalue|…|`."""

from __future__ import annotations

from dataclasses import dataclass

STX, ETX = 0x02, 0x03


@dataclass(frozen=True)
class Rec:
    kind: str
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def make(cls, kind: str, **values: object) -> Rec:
        return cls(kind, tuple((k.replace("_", "#"), str(v)) for k, v in values.items() if v is not None))

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.fields if k == name), default)

    def __str__(self) -> str:
        return self.kind + "|" + "".join(f"{k}{v}|" for k, v in self.fields)


def encode(rec: Rec, encoding: str = "utf-8") -> bytes:
    return bytes([STX]) + str(rec).encode(encoding) + bytes([ETX])


class Frames:
    """Bytes in, records out; anything it cannot read comes back as a string saying what."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding
        self.buffer = b""

    def feed(self, data: bytes) -> list[Rec | str]:
        self.buffer += data
        out: list[Rec | str] = []
        while True:
            start = self.buffer.find(bytes([STX]))
            if start < 0:
                if self.buffer:
                    out.append(f"garbage {self.buffer!r}")
                self.buffer = b""
                return out
            if start:
                out.append(f"garbage {self.buffer[:start]!r}")
            end = self.buffer.find(bytes([ETX]), start)
            if end < 0:
                self.buffer = self.buffer[start:]
                return out
            body, self.buffer = self.buffer[start + 1:end], self.buffer[end + 1:]
            try:
                text = body.decode(self.encoding)
                kind, *parts = text.split("|")
                if len(kind) != 2 or parts[-1] != "":
                    raise ValueError
                out.append(Rec(kind, tuple((p[:2], p[2:]) for p in parts[:-1])))
            except (ValueError, IndexError):
                out.append(f"bad record {body!r}")
