"""Fills on an RGB canvas: solid and gradient rectangles with rounded corners and opacity."""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw

from sociallab.content.render.brand import RGBA

Box = tuple[int, int, int, int]  # left, top, right, bottom
Stops = tuple[tuple[float, RGBA], ...]
_STRIP = 1024


def scale_alpha(mask: Image.Image, opacity: float) -> Image.Image:
    """`mask` (mode L) multiplied by `opacity`."""
    if opacity >= 1.0:
        return mask
    table = [round(v * opacity) for v in range(256)]
    return mask.point(table)


@lru_cache(maxsize=64)
def rounded_mask(width: int, height: int, radius: int) -> Image.Image:
    """An L mask of a `width` x `height` rectangle with rounded corners (cached; do not mutate)."""
    mask = Image.new("L", (width, height), 0)
    radius = min(radius, width // 2, height // 2)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=255)
    return mask


def fill_rect(canvas: Image.Image, box: Box, color: RGBA, *, radius: int = 0, opacity: float = 1.0) -> None:
    """Paint `box` with `color` (its alpha times `opacity`), corners rounded by `radius`."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    alpha = color[3] / 255 * opacity
    if alpha <= 0 or width <= 0 or height <= 0:
        return
    if radius == 0 and alpha >= 1.0:
        canvas.paste(color[:3], box)
        return
    if radius == 0:
        # A constant blend is a per-channel lookup table: much cheaper than a masked paste.
        table = [round(v * (1 - alpha) + c * alpha) for c in color[:3] for v in range(256)]
        canvas.paste(canvas.crop(box).point(table), box)
        return
    canvas.paste(color[:3], box, scale_alpha(rounded_mask(width, height, radius), alpha))


@lru_cache(maxsize=32)
def _strip(stops: Stops) -> Image.Image:
    """A 1-pixel-high RGBA ramp through `stops`, padded by one pixel of each end colour."""
    pixels: list[RGBA] = []
    for i in range(_STRIP):
        t = i / (_STRIP - 1)
        pixels.append(_at(stops, t))
    strip = Image.new("RGBA", (_STRIP + 2, 1))
    strip.putdata([pixels[0], *pixels, pixels[-1]])
    return strip


def _at(stops: Stops, t: float) -> RGBA:
    if t <= stops[0][0]:
        return stops[0][1]
    for (p0, c0), (p1, c1) in itertools.pairwise(stops):
        if t <= p1:
            f = 0.0 if p1 == p0 else (t - p0) / (p1 - p0)
            return tuple(round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
    return stops[-1][1]


@lru_cache(maxsize=32)
def gradient(width: int, height: int, angle: float, stops: Stops) -> tuple[Image.Image, Image.Image]:
    """A linear gradient filling `width` x `height` as (RGB, alpha) images (cached; do not mutate).

    `angle` in degrees: 0 runs left to right, 90 top to bottom; the ramp spans the box's extent
    along that direction, so the first and last stops touch opposite corners or edges.
    """
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    extent = abs(width * cos) + abs(height * sin) or 1.0
    scale = (_STRIP - 1) / extent
    # Output (x, y) samples the strip at 1 + (projection onto the direction / extent + 0.5) * (N - 1).
    a, b = cos * scale, sin * scale
    c = 1 + (_STRIP - 1) / 2 - (width / 2) * a - (height / 2) * b
    ramp = _strip(stops).transform(
        (width, height), Image.Transform.AFFINE, (a, b, c, 0, 0, 0), Image.Resampling.NEAREST
    )
    return ramp.convert("RGB"), ramp.getchannel("A")


def fill_gradient(
    canvas: Image.Image, box: Box, angle: float, stops: Stops, *, radius: int = 0, opacity: float = 1.0
) -> None:
    """Paint `box` with a linear gradient (stop colours carry their own alpha), rounded and faded."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0 or opacity <= 0:
        return
    rgb, alpha = gradient(width, height, round(angle, 3), stops)
    if radius:
        alpha = ImageChops.multiply(alpha, rounded_mask(width, height, radius))
    colours = {stop[1][:3] for stop in stops}
    # One colour fading in or out (a scrim): paste the flat colour, cheaper than a gradient image.
    source: Image.Image | tuple[int, ...] = colours.pop() if len(colours) == 1 else rgb
    canvas.paste(source, box, scale_alpha(alpha, opacity))
