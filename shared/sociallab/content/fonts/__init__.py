"""Fonts shipped with the package: Inter (SIL Open Font License 1.1, see LICENSE-Inter.txt).

Inter covers Latin, Latin Extended, Greek and Cyrillic, so names such as "Müller", "Ødegaard",
"Nuñez", "Škriniar" and "Çalhanoğlu" render with real glyphs. A brand kit naming another family
falls back to Inter until that family is shipped here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).parent
DEFAULT_FAMILY = "Inter"
_FILES: dict[str, dict[str, str]] = {
    "Inter": {
        "regular": "Inter-Regular.otf",
        "semibold": "Inter-SemiBold.otf",
        "bold": "Inter-Bold.otf",
        "black": "InterDisplay-Black.otf",
    },
}


def font_path(family: str, weight: str) -> Path:
    """The file of `family` in `weight` (Inter when the family is not shipped; bold for an unknown weight)."""
    faces = _FILES.get(family) or _FILES[DEFAULT_FAMILY]
    return FONT_DIR / faces.get(weight, faces["bold"])


@lru_cache(maxsize=256)
def load_font(family: str, weight: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font; the basic layout engine (kerning, no shaping) keeps output stable."""
    return ImageFont.truetype(str(font_path(family, weight)), size, layout_engine=ImageFont.Layout.BASIC)
