"""The body parser against arbitrary JSON (hypothesis): it refuses a document exactly
when some text in it — a value or a key, at any depth — cannot be stored (a lone
surrogate, or NUL), and the field it names leads, in the document, to such text.
The oracle asks the codec and the character itself, not the parser's walk."""

from __future__ import annotations

import json
import re

from django.http import HttpRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.apikit import JsonParser
from passgate.errors import PassgateError

# Mostly harmless letters, sometimes a lone surrogate (either half) or NUL.
CHARS = st.sampled_from(list("abcXYZ é") + ["\ud800", "\udfff", "\x00", "\U0001f600"])
TEXT = st.text(CHARS, max_size=6)
KEY = st.text(st.sampled_from(list("abkz") + ["\ud83d", "\x00"]), min_size=1, max_size=4)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY, inner, max_size=4),
    max_leaves=20,
)


def unstorable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in text


def bad_texts(value) -> bool:
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, list):
        return any(bad_texts(v) for v in value)
    if isinstance(value, dict):
        return any(unstorable(k) or bad_texts(v) for k, v in value.items())
    return False


def follow(data, field: str):
    """The value (or the key) the field names; keys are shown with backslash escapes."""
    node, last_key = data, None
    for index, name in re.findall(r"\[(\d+)\]|\.?([^.\[]+)", field):
        if name:
            match = [k for k in node if k.encode("utf-8", "backslashreplace").decode("ascii",
                                                                                   "backslashreplace") == name]
            assert match, (field, name, list(node))
            last_key, node = match[0], node[match[0]]
        else:
            last_key, node = None, node[int(index)]
    return node, last_key


def parse(data):
    request = HttpRequest()
    request._body = json.dumps(data).encode()  # \\uXXXX escapes: surrogates travel as JSON allows
    request.META["CONTENT_LENGTH"] = str(len(request._body))
    return JsonParser().parse_body(request)


@given(JSONISH)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_refused_exactly_when_some_text_cannot_be_stored(data):
    # The oracle judges the document as it arrives: two lone halves side by side in the
    # generated text travel as one valid \uXXXX pair and decode to a real character.
    document = json.loads(json.dumps({"payload": data}))
    try:
        parsed = parse(document)
    except PassgateError as error:
        assert bad_texts(document), error
        assert error.http_status in (400, 422)
        node, key = follow(document, error.field)
        assert (isinstance(node, str) and unstorable(node)) or (key is not None and unstorable(key)), error.field
    else:
        assert not bad_texts(document)
        assert parsed == document
