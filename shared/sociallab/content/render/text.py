"""Text that fits its box: the largest size between min and max that wraps into `max_lines` lines
and fits the box's height, else the minimum size with the overflow cut at an ellipsis; drawn with
an optional soft shadow and outline so it stays legible on any photo."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from sociallab.content.fonts import load_font
from sociallab.content.render.brand import RGBA
from sociallab.content.render.paint import Op, masked, scale_alpha

ELLIPSIS = "…"


@dataclass(frozen=True)
class Fitted:
    font: ImageFont.FreeTypeFont
    size: int
    lines: list[str]
    line_px: int


@lru_cache(maxsize=65536)
def _advance(font: ImageFont.FreeTypeFont, chars: str) -> float:
    return font.getlength(chars)


def measure(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Width of `text` in px, as `font.getlength` gives it, from cached pair widths.

    The basic layout is the sum of glyph advances plus the kerning of each adjacent pair, so
    width("abc") = w("ab") + w("bc") - w("b"); FreeType loads glyphs slowly enough (tens of µs a
    call) that measuring each wrap candidate directly dominated the fitting time.
    """
    if len(text) <= 2:
        return _advance(font, text)
    total = 0.0
    for i in range(len(text) - 1):
        total += _advance(font, text[i : i + 2])
        if i:
            total -= _advance(font, text[i])
    return total


def prepare(text: str, *, uppercase: bool = False) -> str:
    """NFC-normalised (precomposed accents), optionally upper-cased, whitespace tidied per line."""
    text = unicodedata.normalize("NFC", text)
    if uppercase:
        text = text.upper()
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of `text` to `width` px; explicit newlines are kept. A word wider than the
    line stays whole on its own line (the caller sees the overflow and shrinks or ellipsises)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and measure(font, candidate) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


def ellipsize(line: str, font: ImageFont.FreeTypeFont, width: int, *, force: bool = False) -> str:
    """`line` cut to `width` px with a trailing ellipsis (added when `force` even if it fits)."""
    if not force and measure(font, line) <= width:
        return line
    words = line.split(" ")
    while len(words) > 1 and measure(font, " ".join(words) + ELLIPSIS) > width:
        words.pop()
    cut = " ".join(words)
    while cut and measure(font, cut + ELLIPSIS) > width:
        cut = cut[:-1]
    return cut.rstrip(" ,.;:-\u2013") + ELLIPSIS if cut else ""


def _fits(
    lines: list[str], font: ImageFont.FreeTypeFont, width: int, height: int, max_lines: int, line_px: int
) -> bool:
    if len(lines) > max_lines or len(lines) * line_px > height * 1.02:
        return False
    return all(measure(font, line) <= width for line in lines)


def fit(
    text: str,
    *,
    family: str,
    weight: str,
    width: int,
    height: int,
    max_size: int,
    min_size: int,
    max_lines: int,
    line_height: float,
) -> Fitted:
    """The largest size in [min_size, max_size] at which `text` fits; else min_size, ellipsised."""

    def attempt(size: int) -> Fitted:
        font = load_font(family, weight, size)
        return Fitted(font, size, wrap(text, font, width), max(1, round(size * line_height)))

    # Necessary conditions bound the search: all the text laid end to end must fit in
    # max_lines lines (width grows linearly with the size), and one line must fit the height.
    probe = load_font(family, weight, max_size)
    longest = max(measure(probe, line) for line in text.split("\n")) or 1.0
    total = sum(measure(probe, line) for line in text.split("\n")) or 1.0
    bound = max_size * (width * max_lines) / total
    if max_lines == 1:
        bound = min(bound, max_size * width / longest)
    upper = max(min_size, min(max_size, int(bound) + 1, int(height / line_height) + 1))
    lo, hi, best = min_size, upper, None
    while lo <= hi:  # fitting is monotone in the size, so bisect
        mid = (lo + hi) // 2
        fitted = attempt(mid)
        if _fits(fitted.lines, fitted.font, width, height, max_lines, fitted.line_px):
            best, lo = fitted, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    fitted = attempt(min_size)
    room = max(1, min(max_lines, height // fitted.line_px if fitted.line_px else 1))
    lines = [ellipsize(line, fitted.font, width) for line in fitted.lines[:room]]
    if len(fitted.lines) > room:
        lines[-1] = ellipsize(lines[-1], fitted.font, width, force=True)
    return Fitted(fitted.font, fitted.size, [line for line in lines if line] or [ELLIPSIS], fitted.line_px)


def cap_height(font: ImageFont.FreeTypeFont) -> int:
    """Height of a capital above the baseline, for optical vertical centring."""
    return -round(font.getbbox("H", anchor="ls")[1])


def _reach(radius: float) -> int:
    """How far (px) Pillow's Gaussian blur of `radius` spreads a pixel: three box passes, each at
    most the radius rounded up plus one partly weighted pixel."""
    return 3 * (math.ceil(radius) + 1)


def _soft(mask: Image.Image, blur: int) -> tuple[Image.Image, tuple[int, int]]:
    """`mask` blurred by `blur` px, as the part of it the blur can reach from the ink and that
    part's offset in `mask`; wide blurs run at half resolution (a shadow has no detail to lose).

    Only the ink and a margin of blank the blur cannot cross are processed (the text's box is
    mostly blank): every pixel left out is zero either way, and the pixels kept are exactly what
    blurring the whole mask gives, so the shadow is the same at a fraction of the cost.
    """
    ink = mask.getbbox()
    if ink is None:
        return mask, (0, 0)
    if blur <= 0:
        return mask.crop(ink), ink[:2]
    if blur < 4 or min(mask.size) < 8:
        near = _grown(ink, _reach(blur) + 1, mask.size)
        return mask.crop(near).filter(ImageFilter.GaussianBlur(blur)), near[:2]
    # Half resolution: the part starts on an even pixel so that it reduces to the same pixels, and
    # is scaled back with the sample positions of scaling the whole half-size mask to `mask.size`.
    # Those positions can be shifted to the part exactly only where that scaling is exactly 2x (an
    # even side); along an odd side the part spans the whole mask, as before.
    even_w, even_h = mask.width % 2 == 0, mask.height % 2 == 0
    near = _grown(ink, 2 * (_reach(blur / 2) + 2), mask.size)
    near = (
        near[0] & ~1 if even_w else 0,
        near[1] & ~1 if even_h else 0,
        near[2] if even_w else mask.width,
        near[3] if even_h else mask.height,
    )
    small = mask.crop(near).reduce(2).filter(ImageFilter.GaussianBlur(blur / 2))
    size = (near[2] - near[0], near[3] - near[1])
    box = (0, 0, size[0] / 2 if even_w else small.width, size[1] / 2 if even_h else small.height)
    return small.resize(size, Image.Resampling.BILINEAR, box=box), near[:2]


def _grown(box: tuple[int, int, int, int], margin: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    return (
        max(0, box[0] - margin),
        max(0, box[1] - margin),
        min(size[0], box[2] + margin),
        min(size[1], box[3] + margin),
    )


@dataclass(frozen=True)
class Ink:
    color: RGBA
    shadow: tuple[int, int, int, RGBA, float] | None = None  # dx, dy, blur, colour, opacity
    outline: tuple[int, RGBA] | None = None  # width, colour
    opacity: float = 1.0


def text_ops(
    canvas_size: tuple[int, int],
    fitted: Fitted,
    box: tuple[int, int, int, int],
    *,
    align: str,
    valign: str,
    ink: Ink,
) -> list[Op]:
    """`fitted` drawn in `box` (aligned) on a canvas of `canvas_size`, with shadow, outline and
    opacity from `ink`: the shadow, outline and glyph pastes, each trimmed to its ink."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    font, line_px = fitted.font, fitted.line_px
    cap = cap_height(font)
    block = (len(fitted.lines) - 1) * line_px + cap
    if valign == "top":
        first_baseline = top + (line_px - cap) // 2 + cap
    elif valign == "bottom":
        first_baseline = bottom - (line_px - cap) // 2 - block + cap
    else:
        first_baseline = top + (height - block) // 2 + cap
    stroke = ink.outline[0] if ink.outline else 0
    # Room for accents above the cap height, descenders, the outline and the shadow's offset and blur.
    margin = (
        stroke + (abs(ink.shadow[0]) + abs(ink.shadow[1]) + 2 * ink.shadow[2] if ink.shadow else 0) + fitted.size // 3
    )
    region = (
        max(0, left - margin),
        max(0, min(top, first_baseline - cap) - margin),
        min(canvas_size[0], right + margin),
        min(canvas_size[1], max(bottom, first_baseline + block) + margin),
    )
    size = (region[2] - region[0], region[3] - region[1])
    ox, oy = region[0], region[1]

    def mask(stroke_width: int) -> Image.Image:
        layer = Image.new("L", size, 0)
        draw = ImageDraw.Draw(layer)
        for i, line in enumerate(fitted.lines):
            length = measure(font, line)
            if align == "center":
                x = left + (width - length) / 2
            elif align == "right":
                x = right - length
            else:
                x = left
            draw.text(
                (x - ox, first_baseline + i * line_px - oy),
                line,
                font=font,
                fill=255,
                anchor="ls",
                stroke_width=stroke_width,
                stroke_fill=255,
            )
        return layer

    glyphs = mask(0)
    outline = mask(stroke) if stroke else None
    ops: list[Op] = []
    if ink.shadow:
        dx, dy, blur, color, opacity = ink.shadow
        shadow, (sx, sy) = _soft(outline or glyphs, blur)
        shadow_box = (ox + sx + dx, oy + sy + dy, ox + sx + dx + shadow.width, oy + sy + dy + shadow.height)
        shadow_alpha = scale_alpha(shadow, opacity * color[3] / 255 * ink.opacity)
        ops += masked(color[:3], shadow_box, shadow_alpha)
    if outline is not None and ink.outline:
        color = ink.outline[1]
        ops += masked(color[:3], region, scale_alpha(outline, color[3] / 255 * ink.opacity))
    ops += masked(ink.color[:3], region, scale_alpha(glyphs, ink.color[3] / 255 * ink.opacity))
    return ops
