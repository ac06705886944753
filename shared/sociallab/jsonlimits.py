"""Reading JSON from outside without recursing out of the interpreter.

Python's JSON parser, pydantic and `json.dumps` all recurse once per level of nesting, so a
document of 200 KB of `[` (or 30,000 levels of `{"a":`) exhausts the recursion limit (~1000
frames) and a request answers 500. Every JSON document from outside is read with `load_json`:
request bodies (`sociallab.http.parsing`) and json/jsonb values the database hands back
(`sociallab.db`), since users write some of those straight through Supabase and Postgres keeps
documents thousands of levels deep.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper than any document of this API (the deepest, a matches webhook's `record.data`, is a few
# levels) and far below the ~1000 frames at which parsing, validating or re-serialising would
# recurse out; 64 is also System.Text.Json's default maximum depth.
MAX_JSON_DEPTH = 64
# A string, or an unterminated one up to the end: always matching from its opening quote keeps the
# scan linear (a pattern that could fail there would be retried from every later quote).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


class JSONTooDeepError(ValueError):
    """The JSON document nests arrays and objects deeper than allowed."""


def nesting_exceeds(text: str, max_depth: int) -> bool:
    """Whether the arrays and objects of JSON `text` nest deeper than `max_depth`.

    One linear pass that never recurses; brackets inside strings do not count. On malformed JSON
    it may count too deep, never too shallow, up to where a parser would stop with an error.
    """
    if text.count("[") + text.count("{") <= max_depth:  # most documents: no need to look closer
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") <= max_depth:
        return False
    depth = 0
    for bracket in brackets:
        if bracket in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def load_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`raw` parsed as JSON (bytes in any encoding `json.loads` detects), after bounding its depth.

    Raises:
        JSONTooDeepError: it nests deeper than `max_depth`.
        ValueError: it is not JSON (`json.JSONDecodeError`, `UnicodeDecodeError`, or an integer
            longer than the interpreter converts).
    """
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    if nesting_exceeds(text, max_depth):
        raise JSONTooDeepError(f"JSON nested deeper than {max_depth} levels.")
    return json.loads(text)
