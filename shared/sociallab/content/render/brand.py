"""The workspace brand kit as the composer sees it: colours, font family, logo, name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image

RGBA = tuple[int, int, int, int]
_DARK_TEXT = "#111111"


def parse_hex(value: str) -> RGBA:
    """`#RGB`, `#RRGGBB` or `#RRGGBBAA` as an RGBA tuple.

    Raises:
        ValueError: not a hex colour.
    """
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    if len(digits) == 6:
        digits += "ff"
    if len(digits) != 8 or value[:1] != "#":
        raise ValueError(f"not a hex colour: {value!r}")
    n = int(digits, 16)
    return (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255


def _luminance(rgb: RGBA) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b, _ = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def readable_on(background: str) -> str:
    """White or near-black, whichever contrasts more with `background` (WCAG contrast ratio)."""
    lum = _luminance(parse_hex(background))
    white = 1.05 / (lum + 0.05)
    dark = (lum + 0.05) / (_luminance(parse_hex(_DARK_TEXT)) + 0.05)
    return "#FFFFFF" if white >= dark else _DARK_TEXT


@dataclass(frozen=True)
class Brand:
    """Colours are `#RRGGBB`; `logo` is image bytes (PNG with alpha is best) or an image, or None."""

    primary: str = "#111827"
    secondary: str = "#FFFFFF"
    accent: str = "#E11D48"
    font: str = "Inter"
    logo: bytes | Image.Image | None = None
    name: str = ""

    @classmethod
    def from_workspace(cls, row: Mapping[str, Any], *, logo: bytes | Image.Image | None = None) -> Brand:
        """The brand of a `workspaces` row (its colour columns, font and name); the logo is passed in."""
        return cls(
            primary=row.get("primary_color") or cls.primary,
            secondary=row.get("secondary_color") or cls.secondary,
            accent=row.get("accent_color") or cls.accent,
            font=row.get("font") or cls.font,
            logo=logo,
            name=row.get("name") or "",
        )

    def color(self, ref: str) -> RGBA:
        """A colour reference of a spec (brand name, `white`, `black` or hex) as RGBA.

        Raises:
            ValueError: an unknown name or a malformed hex value.
        """
        return _color(self.primary, self.secondary, self.accent, ref)


@lru_cache(maxsize=256)
def _color(primary: str, secondary: str, accent: str, ref: str) -> RGBA:
    named = {
        "primary": primary,
        "secondary": secondary,
        "accent": accent,
        "text_on_primary": readable_on(primary),
        "text_on_secondary": readable_on(secondary),
        "text_on_accent": readable_on(accent),
        "white": "#FFFFFF",
        "black": "#000000",
    }
    return parse_hex(named.get(ref, ref))
