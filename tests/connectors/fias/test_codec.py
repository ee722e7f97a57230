"""The FIAS codec: framing, typed records, clear errors, and round trips (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.connectors.fias.codec import (
    SPECS,
    DecodeError,
    Decoder,
    EncodeError,
    Record,
    Skipped,
    decode,
    encode,
)

VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="|"), max_size=20)
FIELD_ID = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#", min_size=2, max_size=2)
# fields whose format the codec checks get values of that format
FORMATTED = {"DA": st.dates().map(lambda d: d.strftime("%y%m%d")), "GA": st.dates().map(lambda d: d.strftime("%y%m%d")),
             "GD": st.dates().map(lambda d: d.strftime("%y%m%d")),
             "TI": st.times().map(lambda t: t.strftime("%H%M%S")), "TA": st.integers(0, 10**9).map(str)}


@st.composite
def records(draw, encoding="utf-8"):
    kind = draw(st.sampled_from(sorted(SPECS)))
    names = list(SPECS[kind].required) + draw(st.lists(FIELD_ID, max_size=6))
    fields = []
    for name in names:
        value = draw(FORMATTED[name]) if name in FORMATTED else draw(VALUE)
        if encoding == "latin-1":
            value = value.encode("latin-1", "ignore").decode("latin-1")
        fields.append((name, value))
    return Record(kind, tuple(fields))


def test_a_check_in_on_the_wire():
    rec = Record.make("GI", RN="101", G_="4711", GN="Müller", GD="261125")
    assert encode(rec) == b"\x02GI|RN101|G#4711|GNM\xc3\xbcller|GD261125|\x03"
    assert encode(rec, "latin-1") == b"\x02GI|RN101|G#4711|GNM\xfcller|GD261125|\x03"
    back = decode(encode(rec))
    assert back == rec and back.get("GN") == "Müller" and back.date("GD") == dt.date(2026, 11, 25)
    assert decode(b"\x02LA|\x03") == Record("LA")


@given(records())
def test_decode_encode_round_trip(rec):
    assert decode(encode(rec)) == rec


@given(records(encoding="latin-1"))
def test_latin1_round_trip(rec):
    assert decode(encode(rec, "latin-1"), "latin-1") == rec


@given(records())
def test_encode_decode_round_trip_of_bytes(rec):
    wire = encode(rec)
    assert encode(decode(wire)) == wire


@settings(deadline=None)
@given(st.lists(records(), min_size=1, max_size=5), st.binary(max_size=12).map(lambda b: b.replace(b"\x02", b"")))
def test_the_stream_decoder_gives_the_same_records_wherever_the_bytes_are_split(recs, garbage):
    wire = garbage + b"".join(encode(r) + garbage for r in recs)
    whole = Decoder().feed(wire)
    assert [x for x in whole if isinstance(x, Record)] == recs
    for cut in range(len(wire) + 1):
        decoder = Decoder()
        assert decoder.feed(wire[:cut]) + decoder.feed(wire[cut:]) == whole


def test_one_byte_at_a_time():
    recs = [Record.make("LS", DA="261123", TI="101500"), Record.make("GO", RN="12", G_="9")]
    decoder = Decoder()
    out = []
    for byte in b"".join(encode(r) for r in recs):
        out += decoder.feed(bytes([byte]))
    assert out == recs and decoder.pending == b""


def test_garbage_between_frames_is_skipped_and_reported():
    out = Decoder().feed(b"noise" + encode(Record("LA")) + b"\x02XX|\x03" + b"\x02GI|RN1|\x03" + encode(Record("LE")))
    assert out[0] == Skipped(b"noise", "bytes outside a frame")
    assert out[1] == Record("LA")
    assert isinstance(out[2], Skipped) and "unknown record id" in out[2].reason
    assert isinstance(out[3], Skipped) and "G#" in out[3].reason and "GI record" in out[3].reason
    assert out[4] == Record("LE")


def test_a_frame_cut_by_a_new_stx_is_dropped():
    out = Decoder().feed(b"\x02GI|RN1" + encode(Record("LA")))
    assert isinstance(out[0], Skipped) and out[1] == Record("LA")


@pytest.mark.parametrize("value", ["a|b", "line\nbreak", "tab\there", "\x02"])
def test_values_with_a_pipe_or_control_characters_are_refused_on_encode(value):
    with pytest.raises(EncodeError) as err:
        encode(Record.make("GI", RN="101", G_="1", GN=value))
    assert err.value.field == "GN" and "'|'" in err.value.expected and repr(value) == err.value.found


def test_a_value_outside_latin1_is_refused_naming_the_encoding():
    with pytest.raises(EncodeError) as err:
        encode(Record.make("GI", RN="101", G_="1", GN="Łukasz"), "latin-1")
    assert err.value.field == "encoding" and err.value.expected == "latin-1"


@pytest.mark.parametrize("wire, field, words", [
    (b"\x02GI|RN101|\x03", "G#", "GI record"),
    (b"\x02PS|P#1|RN101|TA12.50|\x03", "TA", "cents"),
    (b"\x02GI|RN101|G#1|GD2026-11-25|\x03", "GD", "yymmdd"),
    (b"\x02GI|RN101|G#1\x03", "record", "not closed"),
    (b"\x02ZZ|\x03", "record", "unknown record id"),
    (b"\x02GI|RN\xff|G#1|\x03", "encoding", "encoding"),
])
def test_decode_errors_name_the_record_and_the_field(wire, field, words):
    with pytest.raises(DecodeError) as err:
        decode(wire)
    text = f"{err.value} {err.value.expected} {err.value.found}"
    assert err.value.field == field and words in text
