"""Strict parsing of operator-typed parameters."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.connectors.otipass.interface import OtipassParams
from passgate.errors import InvalidInput
from passgate.jobs.params import parse_document, parse_parameters
from passgate.jobs.registry import NoParams

SEED_EXAMPLE = """{

   "OtipassProjectId":"toulouse", //The project id of Otipass. It is generally the last part of the url.
   "NumType":"serial", //define this value if the pass codes start with letters
   "sectorInfos":{
      "DDMM_AUG":{ //This is the sector code as defined in TNAC configuration.
         "OtipassServiceId":"pcumid031fs00061", //Provided by Otipass
         "OtipassPSpaceId":"PROVIDER#PCUMID031FS00061", //Provided by Otipass
         "seasonCode":"DDMM23", /* season and product
                                   codes of the sales */
         "productCode":"PASSTOU"
      }
   }
}"""


def test_the_seed_example_with_its_comments_parses():
    value, model = parse_parameters(SEED_EXAMPLE, OtipassParams)
    assert value["OtipassProjectId"] == "toulouse"
    assert model.sectorInfos["DDMM_AUG"].OtipassPSpaceId == "PROVIDER#PCUMID031FS00061"


def test_comment_markers_inside_strings_are_kept():
    value, _ = parse_document('{"url": "https://x.example/a//b", "c": "/* not a comment */"} // end')
    assert value == {"url": "https://x.example/a//b", "c": "/* not a comment */"}


def test_duplicate_key_names_the_key_and_its_line():
    text = '{\n  "sectorInfos": {\n    "DDMM_AUG": {},\n    "DDMM_AUG": {}\n  }\n}'
    with pytest.raises(InvalidInput) as exc:
        parse_document(text)
    error = exc.value
    assert '"DDMM_AUG"' in error.message and "line 4" in error.message and "lines 3 and 4" in error.message
    assert "$.sectorInfos" in error.message
    assert error.details[0]["path"] == "$.sectorInfos.DDMM_AUG" and error.details[0]["line"] == 4
    assert error.expected and error.found


@pytest.mark.parametrize("text, path, expected", [
    ('{"a": 1,}', "$", '"key"'),
    ('{"a": [1, 2,]}', "$.a[2]", "a value"),
    ("{'a': 1}", "$", "double-quoted"),
    ('{"a": 1} x', "$", "end of the document"),
    ('{"a": tru}', "$.a", "true"),
    ('{"a": 1 /* open', "$", "*/"),
    ('{"a": "line\nbreak"}', "$.a", "string"),
])
def test_syntax_errors_name_path_expected_found(text, path, expected):
    with pytest.raises(InvalidInput) as exc:
        parse_document(text)
    assert exc.value.message.startswith(path + " (line")
    assert expected in str(exc.value.expected)
    assert exc.value.found


def test_wrong_types_missing_and_unknown_fields_are_all_reported_with_lines():
    text = ('{\n "OtipassProjectId": "toulouse",\n "NumType": "hex",\n "sectorInfos": {\n'
            '  "A": {"OtipassServiceId": 12, "OtipassPSpaceId": "X", "seasonCode": "S"}\n },\n "colour": 1\n}')
    with pytest.raises(InvalidInput) as exc:
        parse_parameters(text, OtipassParams)
    by_path = {d["path"]: d for d in exc.value.details}
    assert by_path["$.NumType"]["line"] == 3
    assert "numeric" in by_path["$.NumType"]["expected"] and by_path["$.NumType"]["found"] == '"hex"'
    assert by_path["$.sectorInfos.A.OtipassServiceId"]["expected"] == "a string"
    assert by_path["$.sectorInfos.A.OtipassServiceId"]["found"] == "12"
    assert by_path["$.sectorInfos.A.OtipassPSpaceId"]["expected"].startswith("text matching")
    assert by_path["$.sectorInfos.A.productCode"]["code"] == "required"
    assert by_path["$.sectorInfos.A.productCode"]["found"] == "nothing"
    assert by_path["$.colour"]["line"] == 7 and "no such key" in by_path["$.colour"]["expected"]


def test_strict_types_refuse_numbers_in_strings():
    from passgate.connectors.tixngo.interface import TixngoParams

    with pytest.raises(InvalidInput) as exc:
        parse_parameters('{"ticketIterationSize": "500"}', TixngoParams)
    assert exc.value.expected == "an integer" and exc.value.found == '"500"'
    with pytest.raises(InvalidInput) as exc:
        parse_parameters('{"ticketIterationSize": 5000}', TixngoParams)
    assert "1000" in exc.value.expected


def test_top_level_must_be_an_object_and_empty_is_empty():
    assert parse_parameters("  // nothing\n", NoParams)[0] == {}
    with pytest.raises(InvalidInput) as exc:
        parse_parameters("[1]", OtipassParams)
    assert exc.value.expected == "an object { ... }"


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(InvalidInput) as exc:
        parse_document("[" * 5000 + "]" * 5000)
    assert "deeply" in exc.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet=st.sampled_from(list('{}[]":,/*\\ \n\tabtrufnl0123456789.-eE\'')), max_size=80))
def test_generated_documents_never_crash_the_parser(text):
    try:
        parse_parameters(text, OtipassParams)
    except InvalidInput as exc:
        assert exc.message and exc.field == "parameters"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parser(text):
    try:
        parse_document(text)
    except InvalidInput:
        pass


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_valid_json_reads_as_json_does(value):
    text = json.dumps(value, indent=1)
    assert parse_document(text)[0] == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["OtipassProjectId", "NumType", "sectorInfos", "tariffMapping", "x"]),
                       json_values, max_size=5))
def test_generated_objects_never_crash_the_schema_validation(value):
    try:
        parse_parameters(json.dumps(value), OtipassParams)
    except InvalidInput as exc:
        assert all(d["path"].startswith("$") and d["expected"] and d["found"] for d in exc.details)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["OTIPASS", "TIXNGO", "ECHO"]), st.text(max_size=60) | st.sampled_from([
    "https://o.example/api/toulouse", "https://t.example/organizer/tickets", "http://[::1", "https://x?a=1",
    "https://:80/api", "ftp://x/api"]), st.text(max_size=40))
def test_generated_urls_and_parameters_give_errors_not_crashes(type_code, url, text):
    from passgate.errors import PassgateError
    from passgate.jobs.services import prepare_interface

    try:
        prepare_interface(type_code, url, text)
    except PassgateError as exc:
        assert exc.field and exc.message
