"""Opening an image for decoding with bounded memory, for intake and for logos: its size, mode and
what decoding it will cost, known from the header before any pixel is decoded.

    with decoder_errors(), open_source(data, "png", reduce_to=2560) as source:  # the header only
        with decode_budget().hold_blocking(source.cost):  # room for its peak memory (decode_budget)
            rgb = fit_srgb(source, fitted_size(source.size, 2560))  # decoded, sRGB, small (fitting)

Memory is bounded three ways:
- a pixel ceiling per format (`MAX_PIXELS`), checked on the header before anything is decoded;
- `Source.cost`, the decoder's peak memory estimated from the header, which the process-wide
  decode budget adds up;
- no full-size copy: JPEGs are decoded at a reduced size (DCT scaling, `draft`); the other
  formats are converted and resized strip by strip (`fitting`); a HEIC is read straight from
  libheif's RGB buffer, never copied into a full-size Pillow image.

Bytes per pixel, measured as the peak RSS of one decode in a fresh process (a 2560 px result):
JPEG baseline 4 per decoded pixel (after DCT scaling); JPEG progressive, in addition, 2 per sample
of the full-size image for libjpeg's coefficient buffer (3/pixel at 4:2:0, 6/pixel at 4:4:4); PNG
1 (palette, grey), 2 (16-bit grey) or 4 (the rest: Pillow holds RGB in 4 bytes); WebP 16 (libwebp's
animation decoder keeps two canvases, hands over a copy, which Pillow copies again); HEIC 4.5 at
8 bits (the YCbCr planes and the RGB buffer). Plus the strips and the result (`_working_bytes`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from sociallab.content.fitting import STRIP_PIXELS, fitted_size
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
_PIL_FORMATS: dict[str, list[str]] = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"]}
_WEBP_BYTES_PER_PIXEL = 16
_HEIC_PLANE_BYTES = {420: 1.5, 422: 2.0, 444: 3.0}  # YCbCr bytes per pixel at 8 bits
_ONE_BYTE_MODES = {"1", "L", "P"}
_TWO_BYTE_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


@dataclass
class Source:
    """An opened image whose pixels are not decoded yet (`load` does that)."""

    kind: ImageKind
    full_size: tuple[int, int]  # as stored in the file
    size: tuple[int, int]  # what decoding yields (smaller than full_size after DCT scaling)
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
            header (`decoder_errors` words these).
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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:200] if text else type(exc).__name__


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
    strip = min(width * height, STRIP_PIXELS * 5 // 4)  # a strip with its margins
    return 4 * (3 * strip + 2 * out_width * out_height) + 4 * MIB


def _open_heic(data: bytes, reduce_to: int) -> Source:
    import pillow_heif  # only where a HEIC arrives

    heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    image = heif[heif.primary_index]
    width, height = image.size
    check_ceiling("heic", (width, height))
    mode = image.mode  # RGB or RGBA, 8 bits (higher bit depths are converted while decoding)
    planes = _HEIC_PLANE_BYTES.get(image.info.get("chroma") or 420, 3.0) + (1 if "A" in mode else 0)
    if (image.info.get("bit_depth") or 8) > 8:  # 16-bit planes, and libheif's 16-bit RGB on the way to 8
        planes = 2 * planes + 1
    cost = int(width * height * (len(mode) + planes)) + _working_bytes(image.size, reduce_to)
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
        cost=cost,
        icc=image.info.get("icc_profile"),
        _load=load,
        _exif=lambda: exif,
        _rows=rows,
        _close=close,
    )
