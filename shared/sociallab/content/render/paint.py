"""Fills on an RGB canvas as paint operations: solid and gradient rectangles with rounded corners
and opacity. A layer is drawn as a list of `Op`s (`paint` applies them), so a layer that does not
depend on the post can be turned into ops once and replayed onto every canvas of its template."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw

from sociallab.content.render.brand import RGBA

Box = tuple[int, int, int, int]  # left, top, right, bottom
Stops = tuple[tuple[float, RGBA], ...]
RGB = tuple[int, int, int]
_STRIP = 1024


@dataclass(frozen=True)
class Paste:
    """`source` (a colour, or an RGB image of the box's size) pasted into `box` through `mask` (L)."""

    source: RGB | Image.Image
    box: Box
    mask: Image.Image | None = None


@dataclass(frozen=True)
class Blend:
    """A constant-alpha colour over `box`, as one lookup `table` of the pixels under it (per channel)."""

    box: Box
    table: tuple[int, ...]


Op = Paste | Blend


def paint(canvas: Image.Image, ops: Iterable[Op]) -> None:
    """Apply `ops` to `canvas` in order. Their images are only read, never changed."""
    for op in ops:
        if isinstance(op, Blend):
            canvas.paste(canvas.crop(op.box).point(list(op.table)), op.box)
        else:
            paste = _with_image(op)
            canvas.paste(paste.source, paste.box, paste.mask)


def kept(op: Op) -> Op:
    """`op` as `paint` pastes it, for a plan that paints it on every post: its layers then cost only
    their paste."""
    return _with_image(op) if isinstance(op, Paste) else op


def _with_image(op: Paste) -> Paste:
    """A colour through a mask as an image of that colour: it blends exactly the same, at half the
    cost of pasting the colour."""
    if isinstance(op.source, Image.Image) or op.mask is None:
        return op
    size = (op.box[2] - op.box[0], op.box[3] - op.box[1])
    return Paste(Image.new("RGB", size, op.source), op.box, op.mask)


def op_bytes(op: Op) -> int:
    """Memory held by the images of `op` (for bounding caches of ops)."""
    if isinstance(op, Blend):
        return len(op.table)
    images = [image for image in (op.source, op.mask) if isinstance(image, Image.Image)]
    return sum(image.width * image.height * len(image.getbands()) for image in images)


def masked(source: RGB | Image.Image, box: Box, mask: Image.Image) -> list[Op]:
    """`source` pasted through `mask` into `box`, trimmed to where the mask is not empty."""
    bbox = mask.getbbox()
    if bbox is None:
        return []
    if bbox != (0, 0, mask.width, mask.height):
        mask = mask.crop(bbox)
        if isinstance(source, Image.Image):
            source = source.crop(bbox)
        box = (box[0] + bbox[0], box[1] + bbox[1], box[0] + bbox[2], box[1] + bbox[3])
    return [Paste(source, box, mask)]


@lru_cache(maxsize=64)
def _alpha_table(opacity: float) -> list[int]:
    return [round(v * opacity) for v in range(256)]


def scale_alpha(mask: Image.Image, opacity: float) -> Image.Image:
    """`mask` (mode L) multiplied by `opacity` (a new image unless `opacity` >= 1)."""
    if opacity >= 1.0:
        return mask
    return mask.point(_alpha_table(opacity))


@lru_cache(maxsize=64)
def rounded_mask(width: int, height: int, radius: int) -> Image.Image:
    """An L mask of a `width` x `height` rectangle with rounded corners (cached; do not mutate)."""
    mask = Image.new("L", (width, height), 0)
    radius = min(radius, width // 2, height // 2)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=255)
    return mask


@lru_cache(maxsize=64)
def blend_table(color: RGB, alpha: float) -> tuple[int, ...]:
    """The per-channel lookup table of `color` at constant `alpha` over any pixel."""
    return tuple(round(v * (1 - alpha) + c * alpha) for c in color for v in range(256))


def chain(first: Sequence[int], then: Sequence[int]) -> tuple[int, ...]:
    """The per-channel lookup table (768 values) of `first` followed by `then`."""
    return tuple(then[c * 256 + v] for c in range(3) for v in first[c * 256 : c * 256 + 256])


def rect_ops(box: Box, color: RGBA, *, radius: int = 0, opacity: float = 1.0) -> list[Op]:
    """`box` painted with `color` (its alpha times `opacity`), corners rounded by `radius`."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    alpha = color[3] / 255 * opacity
    if alpha <= 0 or width <= 0 or height <= 0:
        return []
    if radius == 0 and alpha >= 1.0:
        return [Paste(color[:3], box)]
    if radius == 0:
        # A constant blend is a per-channel lookup table: much cheaper than a masked paste.
        return [Blend(box, blend_table(color[:3], alpha))]
    return [Paste(color[:3], box, scale_alpha(rounded_mask(width, height, radius), alpha))]


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


@lru_cache(maxsize=8)  # canvas-sized images; plans keep what they need of them
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


def gradient_ops(box: Box, angle: float, stops: Stops, *, radius: int = 0, opacity: float = 1.0) -> list[Op]:
    """`box` painted with a linear gradient (stop colours carry their own alpha), rounded and faded."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0 or opacity <= 0:
        return []
    rgb, alpha = gradient(width, height, round(angle, 3), stops)
    if radius:
        alpha = ImageChops.multiply(alpha, rounded_mask(width, height, radius))
    colours = {stop[1][:3] for stop in stops}
    # One colour fading in or out (a scrim): paste the flat colour, cheaper than a gradient image.
    source: RGB | Image.Image = colours.pop() if len(colours) == 1 else rgb
    return [Paste(source, box, scale_alpha(alpha, opacity))]
