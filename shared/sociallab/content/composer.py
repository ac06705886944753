"""The composer: a template spec + match data + photos + brand kit -> an Instagram-ready JPEG.

    composed = compose(record.spec, data, [photo_bytes], brand, format="feed_4x5")

Synchronous and CPU-bound (Pillow releases the GIL in decode, resize and encode): async callers run
it with `asyncio.to_thread`. The output is exactly the format's canvas (1080x1350, 1080x1080 or
1080x1920), baseline JPEG with 4:2:0 subsampling, untagged sRGB (Instagram reads untagged as sRGB),
well under Instagram's 8 MB; a half-size preview is made from it when asked for. The same inputs
give the same bytes.

A process that composes keeps up to `RETAINED_BLOCKS` freed blocks of Pillow's image memory (16 MiB
each) for the next post: every post allocates the same tens of MiB (the decoded photo, the scaled
one, the canvas), and handing them back to the OS each time made the next post fault those pages in
again: 5 to 25 % of a post's CPU in `python -m bench compose`. `PILLOW_BLOCKS_MAX` overrides it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from PIL import Image

from sociallab.content.render.brand import Brand
from sociallab.content.render.photo import PhotoSource
from sociallab.content.render.plan import plan_for, render
from sociallab.content.templates.spec import TemplateSpec
from sociallab.errors import UnprocessableError

__all__ = ["INSTAGRAM_MAX_BYTES", "Brand", "Composed", "compose", "encode_jpeg"]

INSTAGRAM_MAX_BYTES = 8 * 1024 * 1024
QUALITY = 88
PREVIEW_QUALITY = 80
_MIN_QUALITY = 60
RETAINED_BLOCKS = 8


@dataclass(frozen=True)
class Composed:
    """The rendered post: `jpeg` to publish, `preview_jpeg` (half size) for the UI."""

    jpeg: bytes
    width: int
    height: int
    format: str
    template_key: str

    @property
    def preview_width(self) -> int:
        return self.width // 2

    @property
    def preview_height(self) -> int:
        return self.height // 2

    @cached_property
    def preview_jpeg(self) -> bytes:
        """`jpeg` at half size, made on first use (publishing never needs it): decoded at half
        scale (libjpeg's DCT scaling, cheaper than decoding it whole) and encoded again."""
        image = Image.open(io.BytesIO(self.jpeg))
        image.draft("RGB", (self.preview_width, self.preview_height))  # every canvas size is even
        return encode_jpeg(image, quality=PREVIEW_QUALITY)


def encode_jpeg(image: Image.Image, *, quality: int = QUALITY, limit: int = INSTAGRAM_MAX_BYTES) -> bytes:
    """Baseline 4:2:0 JPEG of `image`, at `quality` or lower until it is at most `limit` bytes.

    Raises:
        UnprocessableError: it cannot get under `limit` even at the lowest quality.
    """
    while True:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling=2, progressive=False, optimize=False)
        data = buffer.getvalue()
        if len(data) <= limit:
            return data
        if quality <= _MIN_QUALITY:
            raise UnprocessableError("The composed image is too large for Instagram.")
        quality -= 8


def compose(
    spec: TemplateSpec,
    data: Mapping[str, Any],
    photos: Sequence[PhotoSource],
    brand: Brand,
    *,
    format: str,
) -> Composed:
    """Render `spec` in `format` with `data` (missing fields use the layers' fallbacks) and `photos`
    (bytes or PIL images, in the order of the photo layers' `index`; missing ones use the fallback fill).

    Raises:
        UnprocessableError: the template has no such format, or a photo cannot be decoded.
    """
    _reuse_freed_image_memory()
    try:
        plan = plan_for(spec, format, brand)
    except ValueError as exc:
        raise UnprocessableError(str(exc)) from None
    canvas = render(plan, brand, data, list(photos))
    return Composed(
        jpeg=encode_jpeg(canvas), width=canvas.width, height=canvas.height, format=format, template_key=spec.key
    )


@cache
def _reuse_freed_image_memory() -> None:
    if "PILLOW_BLOCKS_MAX" not in os.environ:  # Pillow applied the operator's value when it loaded
        Image.core.set_blocks_max(RETAINED_BLOCKS)
