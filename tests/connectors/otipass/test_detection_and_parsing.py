"""Card detection (NumType) against oracles written apart from the code, and the client's strict
reading of Otipass answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passgate.connectors.otipass.client import parse_pass, parse_usage
from passgate.connectors.otipass.door import OtipassDoor
from passgate.jobs.partner_http import PartnerError

SECTOR = SimpleNamespace(code="MAIN")
INFO = {"OtipassServiceId": "S", "OtipassPSpaceId": "PROVIDER#S", "seasonCode": "S26", "productCode": "PASS"}


def interface(num_type: str, mapped: str = "MAIN") -> SimpleNamespace:
    return SimpleNamespace(parameters={"NumType": num_type, "sectorInfos": {mapped: INFO}})


def luhn_oracle(text: str) -> bool:
    """Double every second digit from the right, add up the digits of everything: a multiple of 10."""
    if not (2 <= len(text) <= 40) or not all(c in "0123456789" for c in text):
        return False
    digits = "".join(str(int(c) * 2) if i % 2 else c for i, c in enumerate(reversed(text)))
    return sum(int(c) for c in digits) % 10 == 0


def serial_oracle(text: str) -> bool:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return (2 <= len(text) <= 40 and text[0] in letters
            and all(c in letters or c in "0123456789" for c in text))


door = OtipassDoor()
barcodes = st.one_of(st.text(alphabet="0123456789", min_size=0, max_size=45),
                     st.text(alphabet="0123456789ABCZabz-_ é٣", min_size=0, max_size=45),
                     st.text(max_size=20))


@given(barcodes)
def test_numeric_detection_is_the_luhn_check(barcode):
    assert door.recognises(barcode, SECTOR, interface("numeric")) == luhn_oracle(barcode)


@given(barcodes)
def test_serial_detection_is_letters_then_alphanumerics(barcode):
    assert door.recognises(barcode, SECTOR, interface("serial")) == serial_oracle(barcode)


def test_known_luhn_numbers_and_an_unmapped_sector():
    assert door.recognises("79927398713", SECTOR, interface("numeric"))
    assert not door.recognises("79927398710", SECTOR, interface("numeric"))
    assert not door.recognises("\u0660\u0660", SECTOR, interface("numeric"))  # Arabic-Indic "00"
    # a sector absent from sectorInfos recognises nothing (and gives offline devices no rule)
    assert not door.recognises("79927398713", SECTOR, interface("numeric", mapped="OTHER"))
    assert door.format_rules(SECTOR, interface("numeric", mapped="OTHER")) == []


@pytest.mark.parametrize(("status", "body", "found"), [
    (201, {"accepted": "yes"}, "'yes'"),
    (422, {"accepted": False, "reason": "NOPE"}, "'NOPE'"),
    (201, {"accepted": True}, "None"),  # no usageId
    (422, {"accepted": False, "reason": "EXPIRED", "recordedLate": True}, "HTTP 422"),
    (200, {"accepted": False, "reason": "EXPIRED", "recordedLate": "true"}, "'true'"),
])
def test_an_unexpected_usage_answer_is_a_partner_error_naming_what_was_found(status, body, found):
    with pytest.raises(PartnerError) as exc:
        parse_usage(status, body)
    assert found in exc.value.found and exc.value.partner_code == "GARBAGE"


def test_a_pass_with_a_strange_state_or_date_is_refused():
    good = {"number": "1", "kind": "numeric", "state": "ACTIVE", "productRef": "P", "validFrom": None,
            "validUntil": "2026-01-01T00:00:00Z", "includedServices": ["s1"]}
    assert parse_pass(good).included_services == ("S1",)
    for broken in ({"state": "HAPPY"}, {"validUntil": "tomorrow"}, {"validUntil": "2026-01-01T00:00:00"},
                   {"includedServices": "S1"}):
        with pytest.raises(PartnerError):
            parse_pass({**good, **broken})
