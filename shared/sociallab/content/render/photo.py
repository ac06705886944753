"""Photos for a layout: decode only as much as the box needs, orient, make sRGB RGB, cover-crop.

A 12 MP JPEG for a 1080 px post is decoded with libjpeg's DCT scaling (`Image.draft`) at 1/2, 1/4
or 1/8 of its size, whichever still covers the box, so it is never decoded at full size.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

if TYPE_CHECKING:
    from PIL import ImageCms

from sociallab.errors import UnprocessableError

PhotoSource = bytes | Image.Image
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_ORIENTATION = 0x0112
# Inputs are normalised on intake; this only keeps a hostile blob from eating the worker's memory.
MAX_PIXELS = 60_000_000


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb_rgb(image: Image.Image) -> Image.Image:
    """RGB in sRGB: an embedded ICC profile is honoured; transparency lands on white."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" not in (ImageCms.getProfileDescription(source) or "").lower():
                converted = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
                if converted is not None:
                    return converted
        except (OSError, ValueError, ImageCms.PyCMSError):
            pass  # a broken profile: fall through to a plain conversion
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGB"), mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def open_photo(source: PhotoSource, width: int, height: int, *, index: int = 0, grey: bool = False) -> Image.Image:
    """`source` decoded, oriented and in sRGB RGB, at least big enough to cover `width` x `height`.
    `grey`: a JPEG without a colour profile may come back as its luma (mode L), which libjpeg
    decodes without the colour conversion; anything else still comes back RGB.

    Raises:
        UnprocessableError: the bytes are not a decodable image, or it is absurdly large.
    """
    try:
        image = Image.open(io.BytesIO(source)) if isinstance(source, bytes | bytearray) else source
        if image.width * image.height > MAX_PIXELS:
            raise UnprocessableError(f"Photo {index + 1} is too large ({image.width}x{image.height}).")
        orientation = image.getexif().get(_ORIENTATION, 1) if isinstance(source, bytes | bytearray) else 1
        src_w, src_h = image.size
        if orientation in _ROTATED:
            src_w, src_h = src_h, src_w
        scale = max(width / src_w, height / src_h)
        if image.format == "JPEG" and (scale < 0.5 or grey):
            need_w, need_h = math.ceil(src_w * scale), math.ceil(src_h * scale)
            if orientation in _ROTATED:
                need_w, need_h = need_h, need_w
            luma = grey and image.mode == "RGB" and not image.info.get("icc_profile")
            image.draft("L" if luma else "RGB", (need_w, need_h))
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        image.load()
        return image if grey and image.mode == "L" else _to_srgb_rgb(image)
    except UnprocessableError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnprocessableError(f"Photo {index + 1} could not be decoded ({type(exc).__name__}).") from None


def cover(
    image: Image.Image, width: int, height: int, focal: tuple[float, float], *, grey: bool = False
) -> Image.Image:
    """`image` scaled to cover `width` x `height` and cropped around `focal` (fractions of the image);
    in grey (mode L) when `grey`, made grey before the resize: one channel costs a third of three,
    and only the pixels the resize reads are converted."""
    scale = max(width / image.width, height / image.height)
    crop_w, crop_h = width / scale, height / scale
    fx, fy = focal
    left = min(max(fx * image.width - crop_w / 2, 0.0), image.width - crop_w)
    top = min(max(fy * image.height - crop_h / 2, 0.0), image.height - crop_h)
    box = (left, top, left + crop_w, top + crop_h)
    # After draft decoding the remaining reduction is under 2x, where bilinear (with Pillow's
    # antialiasing support) is indistinguishable from bicubic and a third cheaper.
    resample = Image.Resampling.BILINEAR if scale >= 0.5 else Image.Resampling.BICUBIC
    if grey and image.mode != "L":
        reach = math.ceil(2 / min(scale, 1.0)) + 2  # beyond the box, the filter's support (bicubic: 2)
        near = (
            max(0, math.floor(left) - reach),
            max(0, math.floor(top) - reach),
            min(image.width, math.ceil(left + crop_w) + reach),
            min(image.height, math.ceil(top + crop_h) + reach),
        )
        image = image.crop(near).convert("L")
        box = (left - near[0], top - near[1], left - near[0] + crop_w, top - near[1] + crop_h)
    return image.resize((width, height), resample, box=box, reducing_gap=2.0)
