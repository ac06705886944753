"""Bringing a decoded image to a small size without a full-size copy: strip by strip, each strip
made 8-bit, box-reduced, given its colour treatment and Lanczos-resized into the result.

    with open_source(data, kind, reduce_to=2560) as source:
        rgb = orient(fit_srgb(source, fitted_size(source.size, 2560)), orientation)

Only a strip (`STRIP_PIXELS` source pixels with a few rows around it) is ever converted at a time:
16-bit to 8-bit, palette to RGBA, transparency onto white and the ICC profile to sRGB happen at
strip size, or after the strip's box reduction. The result equals one Lanczos resize of the whole
converted image to within rounding (strips overlap by the filter's reach).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from PIL import Image, ImageCms

if TYPE_CHECKING:
    from sociallab.content.decoding import Source

STRIP_PIXELS = 2_000_000  # source pixels converted at a time
_TWO_BYTE_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "LA", "RGBa", "La", "PA"}

ORIENTATIONS: dict[int, Image.Transpose] = {  # EXIF orientation -> what makes the photo upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def fit_srgb(source: Source, size: tuple[int, int]) -> Image.Image:
    """The decoded image as 8-bit sRGB RGB of `size` (transparency on white, ICC profile honoured).

    Raises:
        OSError, ValueError: the pixel data is truncated or corrupt.
    """
    return _fit(source, size, _ToSrgb(source.icc))


def fit_rgba(source: Source, size: tuple[int, int]) -> Image.Image:
    """The decoded image as RGBA of `size`, transparency kept (for logos).

    Raises:
        OSError, ValueError: the pixel data is truncated or corrupt.
    """
    return _fit(source, size, lambda strip: strip.convert("RGBA"))


def contained_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled (up or down) to fit inside `box`, aspect kept, as `ImageOps.contain` does."""
    width, height = size
    if width / height > box[0] / box[1]:
        return box[0], max(1, round(height / width * box[0]))
    return max(1, round(width / height * box[1])), box[1]


def fitted_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its long edge is at most `long_edge`."""
    width, height = size
    largest = max(width, height)
    if largest <= long_edge:
        return size
    scale = long_edge / largest
    return max(1, round(width * scale)), max(1, round(height * scale))


def orient(image: Image.Image, orientation: int) -> Image.Image:
    """`image` turned upright for its EXIF `orientation` (1..8)."""
    method = ORIENTATIONS.get(orientation)
    return image.transpose(method) if method is not None else image


def _fit(source: Source, size: tuple[int, int], finish: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Decode `source` and bring it to `size` strip by strip: each strip of source rows is made
    8-bit, box-reduced by a whole factor (like `reducing_gap=2`), finished (`finish`: colour, alpha)
    and Lanczos-resized with enough rows around it that strips join without seams."""
    source.load()
    width, height = source.size
    out_width, out_height = size
    scale = height / out_height
    factor = max(1, int(min(width / out_width, scale) / 2))
    resize = size != source.size
    # Lanczos reaches 3 output steps (3 source pixels when enlarging) each way.
    margin = math.ceil(3 * max(scale, 1.0)) + factor if resize else 0
    rows = max(1, int(STRIP_PIXELS / (width * scale)))
    result: Image.Image | None = None
    for top in range(0, out_height, rows):
        bottom = min(top + rows, out_height)
        first = max(0, math.floor(top * scale) - margin) // factor * factor
        last = min(height, math.ceil(bottom * scale) + margin)
        strip = _eight_bit(source.rows(first, last))
        if factor > 1:
            strip = strip.reduce(factor)
        strip = finish(strip)
        if resize:
            box = (0.0, (top * scale - first) / factor, width / factor, (bottom * scale - first) / factor)
            strip = strip.resize((out_width, bottom - top), Image.Resampling.LANCZOS, box=box)
        if result is None:
            result = Image.new(strip.mode, size)
        result.paste(strip, (0, top))
    assert result is not None
    return result


class _ToSrgb:
    """Strips of any mode -> 8-bit sRGB RGB: 16 bits scaled, alpha onto white, the ICC profile applied."""

    def __init__(self, icc: bytes | None) -> None:
        self._profile = _readable_profile(icc) if icc and not _is_srgb(icc) else None
        self._transforms: dict[str, ImageCms.ImageCmsTransform | None] = {}

    def __call__(self, strip: Image.Image) -> Image.Image:
        if strip.mode in _ALPHA_MODES:
            strip = _flatten(strip)
        transform = self._transform(strip.mode) if self._profile is not None else None
        if transform is not None:
            return ImageCms.applyTransform(strip, transform) or strip
        return strip if strip.mode == "RGB" else strip.convert("RGB")

    def _transform(self, mode: str) -> ImageCms.ImageCmsTransform | None:
        if mode not in self._transforms:
            try:
                self._transforms[mode] = ImageCms.buildTransform(
                    self._profile,  # type: ignore[arg-type]
                    ImageCms.createProfile("sRGB"),
                    mode,
                    "RGB",
                    renderingIntent=ImageCms.Intent.PERCEPTUAL,
                )
            except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
                self._transforms[mode] = None  # a profile that does not fit the pixels: plain conversion
        return self._transforms[mode]


def _eight_bit(im: Image.Image) -> Image.Image:
    """8 bits per channel: 16-bit grey scaled (not clipped), palette expanded, anything odd to RGB."""
    mode = im.mode
    if mode in _TWO_BYTE_MODES or mode == "I":
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if mode in ("F", "1"):
        return im.convert("L")
    if mode in ("P", "PA"):
        return im.convert("RGBA")
    if mode not in ("RGB", "RGBA", "L", "LA", "CMYK", "RGBa", "La"):
        return im.convert("RGB")
    return im


def _flatten(im: Image.Image) -> Image.Image:
    base_mode = "L" if im.mode in ("LA", "La") else "RGB"
    if im.mode in ("RGBa", "La"):
        im = im.convert("RGBA" if base_mode == "RGB" else "LA")
    background = Image.new(base_mode, im.size, 255 if base_mode == "L" else (255, 255, 255))
    background.paste(im.convert(base_mode), mask=im.getchannel("A"))
    return background


def _readable_profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # an unreadable profile: plain conversion


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
