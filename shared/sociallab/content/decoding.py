"""Decoding an image with bounded memory, for intake and for logos.

    with decoder_errors(), open_source(data, "png", reduce_to=2560) as source:  # the header only
        with decode_budget().hold_blocking(source.cost):  # room for its peak memory (decode_budget)
            rgb = fit_srgb(source, fitted_size(source.size, 2560))  # decoded, sRGB, small

Memory is bounded three ways:
- a pixel ceiling per format (`MAX_PIXELS`), checked on the header before anything is decoded;
- `cost`, the decoder's peak memory estimated from the header, which the process-wide decode
  budget adds up;
- no full-size copy: JPEGs are decoded at a reduced size (DCT scaling, `draft`); for the other
  formats the decoded pixels are converted (16-bit, palette, transparency onto white, ICC -> sRGB)
  and resized strip by strip into the small result; a HEIC is read straight from libheif's RGB
  buffer, never copied into a full-size Pillow image.

Bytes per pixel, measured as the peak RSS of one decode in a fresh process (a 2560 px result):
JPEG baseline 4 per decoded pixel (after DCT scaling); JPEG progressive, in addition, 2 per sample
of the full-size image for libjpeg's coefficient buffer (3/pixel at 4:2:0, 6/pixel at 4:4:4); PNG
1 (palette, grey), 2 (16-bit grey) or 4 (the rest: Pillow holds RGB in 4 bytes); WebP 16 (libwebp's
animation decoder keeps two canvases, hands over a copy, which Pillow copies again); HEIC 4.5 at
8 bits (the YCbCr planes and the RGB buffer). Plus the strips and the result (`_working_bytes`).

Orientation is the caller's: the result is in the file's stored orientation (`ORIENTATIONS`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, ImageCms, UnidentifiedImageError

from sociallab.errors import AppError, UnprocessableError

ImageKind = Literal["jpeg", "png", "webp", "heic"]

MAX_SIDE = 30_000  # phone panoramas are ~ 20000 px wide
# No file at its format's ceiling, in that format's most expensive mode, needs more decoder memory
# than a 50 MP phone HEIC (8160 x 6120 x 4.5 B = 215 MiB), the largest photo a club really
# uploads, which must pass. From the bytes per pixel above: PNG 215/4 -> 50 MP, WebP 215/16 ->
# 12 MP, progressive JPEG at 4:4:4 215/(6 + 1) -> 30 MP. A baseline JPEG is decoded at 1/2..1/8
# of its size; its worst case is ~ 26 MP that cannot be scaled (5119 x 5119, 100 MiB).
MAX_PIXELS: dict[str, int] = {
    "jpeg": 80_000_000,
    "jpeg_progressive": 30_000_000,
    "png": 50_000_000,
    "webp": 12_000_000,
    "heic": 52_000_000,
}
_CEILING_ADVICE = {  # the format's name, and what to send instead
    "jpeg": ("JPEG", "Export it smaller (e.g. 4000 px on the long edge)."),
    "jpeg_progressive": ("progressive JPEG", "Export it smaller or as a baseline (not progressive) JPEG."),
    "png": ("PNG", "Export it smaller (e.g. 4000 px on the long edge) or as a JPEG."),
    "webp": ("WebP", "Export it smaller (e.g. 4000 px on the long edge) or as a JPEG."),
    "heic": ("HEIC", "Export it smaller or as a JPEG."),
}

MIB = 1024 * 1024
_STRIP_PIXELS = 2_000_000  # source pixels converted at a time
_PIL_FORMATS: dict[str, list[str]] = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"]}
_WEBP_BYTES_PER_PIXEL = 16
_HEIC_PLANE_BYTES = {420: 1.5, 422: 2.0, 444: 3.0}  # YCbCr bytes per pixel at 8 bits
_ONE_BYTE_MODES = {"1", "L", "P"}
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


@dataclass
class Source:
    """An opened image whose pixels are not decoded yet (`load` does that)."""

    kind: ImageKind
    full_size: tuple[int, int]  # as stored in the file
    size: tuple[int, int]  # what decoding yields (smaller than full_size after DCT scaling)
    mode: str
    cost: int  # estimated peak bytes of decoding and fitting it
    icc: bytes | None
    _load: Callable[[], None]
    _exif: Callable[[], Image.Exif]
    _rows: Callable[[int, int], Image.Image]
    _close: Callable[[], None] = field(default=lambda: None)

    def load(self) -> None:
        """Decode the pixels (the expensive part); once."""
        self._load()

    def exif(self) -> Image.Exif:
        """The EXIF tags; call after `load` (a PNG may keep them after its pixel data)."""
        return self._exif()

    def rows(self, top: int, bottom: int) -> Image.Image:
        """Rows `top`..`bottom` of the decoded image, as a new small image."""
        return self._rows(top, bottom)

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()


def open_source(data: bytes, kind: ImageKind, *, reduce_to: int) -> Source:
    """Read the header of `data` and check its size against the ceilings; decode nothing yet.

    `reduce_to` is the long edge the caller will fit the image into: a JPEG is set up to decode at
    the smallest DCT scale that still covers it.

    Raises:
        UnprocessableError: the image has no pixels, too many, or a side over `MAX_SIDE`.
        OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError: an unreadable
            header (the caller words these).
    """
    if kind == "heic":
        return _open_heic(data, reduce_to)
    im: Any = Image.open(io.BytesIO(data), formats=_PIL_FORMATS[kind])
    try:
        full_size = im.size
        progressive = kind == "jpeg" and bool(im.info.get("progressive") or im.info.get("progression"))
        check_ceiling("jpeg_progressive" if progressive else kind, full_size)
        if kind == "jpeg":
            im.draft(None, _draft_size(full_size, reduce_to))
        cost = _pillow_cost(im, kind, full_size, progressive) + _working_bytes(im.size, reduce_to)
        return Source(
            kind=kind,
            full_size=full_size,
            size=im.size,
            mode=im.mode,
            cost=cost,
            icc=im.info.get("icc_profile"),
            _load=im.load,
            _exif=im.getexif,
            _rows=lambda top, bottom: im.crop((0, top, im.width, bottom)),
            _close=im.close,
        )
    except BaseException:
        im.close()
        raise


@contextmanager
def decoder_errors() -> Iterator[None]:
    """Pillow's and libheif's ways of saying "bad file", in the block, as `UnprocessableError`.

    Raises:
        UnprocessableError: the file is corrupt, truncated or a decompression bomb.
    """
    try:
        yield
    except AppError:
        raise
    except Image.DecompressionBombError:
        raise UnprocessableError(
            "The image declares too many pixels (a decompression bomb?); at most 80 megapixels are accepted."
        ) from None
    except UnidentifiedImageError:
        raise UnprocessableError("The image could not be read; the file is corrupt.") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, RuntimeError) as exc:
        # Pillow's decoders report truncated and corrupt data with these (e.g. "image file is truncated").
        raise UnprocessableError(f"The image could not be decoded: {_reason(exc)}.") from None


def check_ceiling(ceiling: str, size: tuple[int, int]) -> None:
    """Refuse an image of `size` over the pixel ceiling of its format.

    Raises:
        UnprocessableError: no pixels, more than `MAX_PIXELS[ceiling]`, or a side over `MAX_SIDE`.
    """
    width, height = size
    if width < 1 or height < 1:
        raise UnprocessableError("The image has no pixels.")
    limit = MAX_PIXELS[ceiling]
    if width > MAX_SIDE or height > MAX_SIDE or width * height > limit:
        name, advice = _CEILING_ADVICE[ceiling]
        raise UnprocessableError(
            f"The image is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"{name} images may have at most {limit // 1_000_000} megapixels and {MAX_SIDE} px a side. {advice}"
        )


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
    rows = max(1, int(_STRIP_PIXELS / (width * scale)))
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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:200] if text else type(exc).__name__


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


def _draft_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The smallest size draft mode may decode to and still keep the long edge >= `long_edge`."""
    width, height = size
    scale = long_edge / max(width, height)
    if scale >= 1:
        return size
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _bytes_per_pixel(mode: str) -> int:
    if mode in _ONE_BYTE_MODES:
        return 1
    return 2 if mode in _TWO_BYTE_MODES else 4


def _pillow_cost(im: Any, kind: ImageKind, full_size: tuple[int, int], progressive: bool) -> int:
    width, height = im.size
    if kind == "webp":
        return width * height * _WEBP_BYTES_PER_PIXEL
    cost = width * height * _bytes_per_pixel(im.mode)
    if progressive:
        cost += 2 * _jpeg_samples(im, full_size)
    return cost


def _jpeg_samples(im: Any, full_size: tuple[int, int]) -> int:
    """Samples of all components of a JPEG at full size (chroma subsampling counted)."""
    width, height = full_size
    layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * len(im.getbands())
    h_max = max(h for _, h, _, _ in layers)
    v_max = max(v for _, _, v, _ in layers)
    return sum(math.ceil(width * h / h_max) * math.ceil(height * v / v_max) for _, h, v, _ in layers)


def _working_bytes(size: tuple[int, int], reduce_to: int) -> int:
    """Memory beside the decoded pixels: the strips being converted (a few copies of one strip),
    the result (and its copy when it is turned upright) and the encoded JPEG."""
    width, height = size
    out_width, out_height = fitted_size(size, reduce_to)
    strip = min(width * height, _STRIP_PIXELS * 5 // 4)  # a strip with its margins
    return 4 * (3 * strip + 2 * out_width * out_height) + 4 * MIB


def _open_heic(data: bytes, reduce_to: int) -> Source:
    import pillow_heif  # only where a HEIC arrives

    heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    image = heif[heif.primary_index]
    width, height = image.size
    check_ceiling("heic", (width, height))
    mode = image.mode  # RGB or RGBA, 8 bits (higher bit depths are converted while decoding)
    depth = image.info.get("bit_depth") or 8
    planes = _HEIC_PLANE_BYTES.get(image.info.get("chroma") or 420, 3.0) * (2 if depth > 8 else 1)
    cost = int(width * height * (len(mode) + planes + (1 if "A" in mode else 0))) + _working_bytes(
        image.size, reduce_to
    )
    pillow_heif.set_orientation(image.info)  # libheif turns the image upright; its EXIF must not again
    exif = Image.Exif()
    if image.info.get("exif"):
        exif.load(image.info["exif"])
    buffer: list[memoryview] = []

    def load() -> None:
        if not buffer:
            buffer.append(memoryview(image.data))

    def rows(top: int, bottom: int) -> Image.Image:
        stride = image.stride
        pixels = buffer[0][top * stride : bottom * stride]
        return Image.frombytes(mode, (width, bottom - top), pixels, "raw", mode, stride)

    def close() -> None:
        buffer.clear()

    return Source(
        kind="heic",
        full_size=(width, height),
        size=(width, height),
        mode=mode,
        cost=cost,
        icc=image.info.get("icc_profile"),
        _load=load,
        _exif=lambda: exif,
        _rows=rows,
        _close=close,
    )
