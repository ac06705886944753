"""Fill `{placeholders}` from match data without ever leaking a placeholder, "None" or "{score}".

Syntax: `{path}` reads `data["path"]` (dots walk into objects: `{player.name}`); `{path|text}` uses
`text` when the value is missing; `{{` and `}}` are literal braces. A value is missing when the key
is absent or holds None, "", [] or an object. Numbers print without a useless ".0"; lists of plain
values print comma-separated. Data is inserted verbatim, never formatted again, so text inside the
data cannot smuggle placeholders in. An unmatched brace in a template is printed as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)(?:\|([^{}]*))?\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path` in `data` (list items by number), or None."""
    value: Any = data
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def as_text(value: Any) -> str | None:
    """`value` as display text, or None when it counts as missing."""
    if value is None or isinstance(value, Mapping):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0")
    if isinstance(value, list | tuple):
        items = [text for text in (as_text(item) for item in value) if text]
        return ", ".join(items) or None
    text = _CONTROL.sub("", unicodedata.normalize("NFC", str(value))).strip()
    return text or None


def fill(template: str, data: Mapping[str, Any]) -> str | None:
    """`template` with its placeholders filled, or None when one without a `|default` is missing."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        text = as_text(lookup(data, match.group(1)))
        if text is not None:
            return text
        if match.group(2) is not None:
            return match.group(2)
        missing = True
        return ""

    result = _TOKEN.sub(replace, template)
    return None if missing else result


def render_text(text: str, fallback: str, data: Mapping[str, Any]) -> str:
    """`text` filled from `data`; else `fallback` filled; else "" (which hides the layer)."""
    for candidate in (text, fallback):
        filled = fill(candidate, data)
        if filled is not None and filled.strip():
            return filled.strip()
    return ""


def render_caption(template: str, data: Mapping[str, Any]) -> str:
    """A caption from a multi-line `caption_template`: a line whose data is missing is dropped."""
    lines: list[str] = []
    for line in template.splitlines():
        filled = fill(line, data)
        if filled is None:
            continue
        if not filled.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(filled.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def placeholder_paths(template: str) -> set[str]:
    """The data paths `template` reads."""
    return {match.group(1) for match in _TOKEN.finditer(template) if match.group(1)}


def is_present(data: Mapping[str, Any], path: str) -> bool:
    """True when `path` holds a value that is not missing (see the module docstring)."""
    value = lookup(data, path)
    if isinstance(value, list | tuple):
        return len(value) > 0
    return as_text(value) is not None
