"""The JSON depth bound: a linear scan that ignores brackets inside strings."""

from __future__ import annotations

import json

import pytest

from sociallab.jsonlimits import JSONTooDeepError, load_json, nesting_exceeds

pytestmark = pytest.mark.unit


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_the_limit_is_inclusive() -> None:
    assert not nesting_exceeds(nested(64), 64)
    assert nesting_exceeds(nested(65), 64)
    assert nesting_exceeds('{"a":' * 65 + "1" + "}" * 65, 64)


def test_siblings_do_not_add_up() -> None:
    assert not nesting_exceeds(json.dumps([[[1]] for _ in range(1000)]), 3)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"k": "[" * 100}),
        json.dumps(["{" * 100, "]" * 100]),
        json.dumps(['\\"[[[[' * 30]),  # an escaped quote does not end the string
        json.dumps(["\\" * 3 + "[[[[" * 30]),
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert not nesting_exceeds(text, 3)
    assert json.loads(text)


def test_a_string_ending_in_an_escaped_backslash_closes() -> None:
    text = '["\\\\", ' + nested(10) + "]"  # the string is one backslash; the arrays after it count
    assert nesting_exceeds(text, 10)
    assert not nesting_exceeds(text, 11)


def test_brackets_after_an_unterminated_string_are_string_content() -> None:
    # The parser stops at the unterminated string; it never sees these as structure.
    text = '["' + "[" * 100
    assert not nesting_exceeds(text, 3)
    with pytest.raises(ValueError):
        load_json(text, max_depth=3)


def test_load_json_refuses_before_parsing() -> None:
    with pytest.raises(JSONTooDeepError):
        load_json(b"[" * 200_000)
    with pytest.raises(JSONTooDeepError):
        load_json(("[" * 65).encode("utf-16"))  # other encodings json.loads detects are scanned decoded
    assert load_json('[{"a": ["b"]}]'.encode("utf-16")) == [{"a": ["b"]}]


def test_a_number_too_long_to_convert_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        load_json(b"1" * 5000)
