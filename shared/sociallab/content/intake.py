"""Image intake, shared by manual uploads and Drive imports: bytes in, a safe sRGB JPEG out.

    image = await process_image(data, timezone="Europe/Madrid")
    image.normalized          # sRGB JPEG bytes, long edge <= 2560 px, no metadata but capture time
    image.width, image.height # the photo as seen (EXIF orientation applied), in pixels
    image.taken_at            # aware UTC datetime from EXIF, or None

What is refused, and how (every refusal is an `AppError`, never a crash or a hang):

- more than `MAX_BYTES` (40 MB): `PayloadTooLargeError` (413); callers check the size before
  reading everything (`check_size`).
- not JPEG, PNG, WebP or HEIC/HEIF by its content (the file name and declared type are ignored):
  `UnsupportedMediaTypeError` (415). GIF (animated or not), AVIF, TIFF, BMP, PDF and text are 415.
- empty, truncated or corrupt files, more than `MAX_PIXELS` pixels or a side over `MAX_SIDE`
  (read from the header, before decoding), and Pillow's decompression-bomb guard:
  `UnprocessableError` (422). `ImageFile.LOAD_TRUNCATED_IMAGES` is never set.

Decisions:
- Animated WebP/PNG (APNG) and HEIF sequences: the first frame is used (the original is kept).
- Transparency (RGBA, LA, P with tRNS) is flattened onto white.
- Embedded ICC profiles are honoured (converted to sRGB with LittleCMS); an unreadable profile
  falls back to Pillow's plain conversion. CMYK without a profile uses Pillow's conversion.
- 16-bit images are scaled to 8 bits (not clipped).
- The normalised JPEG carries no metadata but the capture time (EXIF DateTimeOriginal and
  OffsetTimeOriginal); GPS, camera serials and the like are dropped. The original is stored as
  received (its md5 is the dedupe key and matches Drive's `md5Checksum`), never served publicly.
- Its long edge is capped at 2560 px: enough to cover a 1080x1920 story from a 4:3 landscape
  photo without upscaling. JPEGs much larger than that are decoded with DCT scaling (draft mode).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from sociallab.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError

MAX_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 80_000_000  # below Pillow's own 89.5 MP warning; a 48/50 MP phone photo passes
MAX_SIDE = 30_000  # phone panoramas are ~ 20000 px wide
NORMALIZED_LONG_EDGE = 2560
NORMALIZED_QUALITY = 90

ImageKind = Literal["jpeg", "png", "webp", "heic"]
MIME_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}
EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "heic": "heic"}
_PIL_FORMATS: dict[str, list[str]] = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"], "heic": ["HEIF"]}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_SUPPORTED = "Use JPEG, PNG, WebP or HEIC."

_EXIF_IFD = 0x8769
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME = 0x9010
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_ORIENTATION = 0x0112

_OWN_ERRORS = (PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError)
_heif_registered = False


@dataclass(frozen=True)
class NormalizedImage:
    """What intake made of one file."""

    kind: ImageKind
    mime_type: str  # of the original
    extension: str  # of the original: jpg, png, webp, heic
    md5: str  # hex md5 of the original bytes
    size: int  # bytes of the original
    width: int  # of the photo as seen (orientation applied), full resolution
    height: int
    taken_at: datetime | None  # aware, UTC
    normalized: bytes  # sRGB JPEG
    normalized_width: int
    normalized_height: int


def check_size(size: int | None) -> None:
    """Refuse a declared or actual size over `MAX_BYTES`.

    Raises:
        PayloadTooLargeError: `size` is larger than 40 MB.
    """
    if size is not None and size > MAX_BYTES:
        raise PayloadTooLargeError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")


def sniff(head: bytes) -> ImageKind:
    """The image kind of a file from its first bytes (at least 32 for HEIF), ignoring its name.

    Raises:
        UnprocessableError: the file is empty.
        UnsupportedMediaTypeError: not JPEG, PNG, WebP or HEIC/HEIF.
    """
    if not head:
        raise UnprocessableError("The file is empty.")
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
        if head[8:12] in _AVIF_BRANDS or (brands & _AVIF_BRANDS and not brands & (_HEIF_BRANDS - {b"mif1", b"msf1"})):
            raise UnsupportedMediaTypeError(f"AVIF images are not supported. {_SUPPORTED}")
        if brands & _HEIF_BRANDS:
            return "heic"
        raise UnsupportedMediaTypeError(f"This video or ISO media file is not a supported image. {_SUPPORTED}")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        raise UnsupportedMediaTypeError(f"GIF images are not supported. {_SUPPORTED}")
    if head.startswith(b"%PDF"):
        raise UnsupportedMediaTypeError(f"PDF files are not supported. {_SUPPORTED}")
    raise UnsupportedMediaTypeError(f"The file is not a supported image. {_SUPPORTED}")


def normalize_image(data: bytes, *, timezone: str | tzinfo = "UTC") -> NormalizedImage:
    """Decode, check and normalise one image (CPU-bound: call `process_image` from async code).

    `timezone` interprets a capture time without an offset (the workspace's time zone).

    Raises:
        PayloadTooLargeError: over 40 MB.
        UnsupportedMediaTypeError: not JPEG, PNG, WebP or HEIC/HEIF by content.
        UnprocessableError: empty, truncated, corrupt, too many pixels, or a decompression bomb.
    """
    check_size(len(data))
    kind = sniff(data[:64])
    if kind == "heic":
        _register_heif()
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS[kind]) as im:
            return _normalize_open(im, data, kind, _zone(timezone))
    except _OWN_ERRORS:
        raise
    except Image.DecompressionBombError:
        raise UnprocessableError(
            f"The image declares too many pixels (a decompression bomb?); at most {MAX_PIXELS // 1_000_000} "
            "megapixels are accepted."
        ) from None
    except UnidentifiedImageError:
        raise UnprocessableError("The image could not be read; the file is corrupt.") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, RuntimeError) as exc:
        # Pillow's decoders report truncated and corrupt data with these (e.g. "image file is truncated").
        raise UnprocessableError(f"The image could not be decoded: {_reason(exc)}.") from None


async def process_image(data: bytes, *, timezone: str | tzinfo = "UTC") -> NormalizedImage:
    """`normalize_image` in a worker thread, so the event loop keeps serving.

    Raises:
        PayloadTooLargeError, UnsupportedMediaTypeError, UnprocessableError: see `normalize_image`.
    """
    return await asyncio.to_thread(normalize_image, data, timezone=timezone)


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def _zone(value: str | tzinfo) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:200] if text else type(exc).__name__


def _normalize_open(im: Image.Image, data: bytes, kind: ImageKind, zone: tzinfo) -> NormalizedImage:
    width, height = im.size
    if width < 1 or height < 1:
        raise UnprocessableError("The image has no pixels.")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise UnprocessableError(
            f"The image is {width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels "
            f"and {MAX_SIDE} px a side are accepted."
        )
    exif = im.getexif()
    taken_at, taken_raw, offset_raw = _capture_time(exif, zone)
    orientation = exif.get(_ORIENTATION, 1)
    if kind == "jpeg":
        im.draft(None, _draft_size(width, height))
    im.load()
    icc = im.info.get("icc_profile")
    oriented = ImageOps.exif_transpose(im) if orientation in (2, 3, 4, 5, 6, 7, 8) else im
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    rgb = _to_srgb(oriented, icc)
    rgb = _cap(rgb, NORMALIZED_LONG_EDGE)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=NORMALIZED_QUALITY, exif=_minimal_exif(taken_raw, offset_raw))
    return NormalizedImage(
        kind=kind,
        mime_type=MIME_TYPES[kind],
        extension=EXTENSIONS[kind],
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        size=len(data),
        width=width,
        height=height,
        taken_at=taken_at,
        normalized=out.getvalue(),
        normalized_width=rgb.width,
        normalized_height=rgb.height,
    )


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """The smallest size draft mode may decode to and still keep the long edge >= the cap."""
    scale = NORMALIZED_LONG_EDGE / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, int(width * scale + 0.999)), max(1, int(height * scale + 0.999))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit sRGB RGB from any mode, alpha flattened onto white, ICC profile honoured."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif mode == "F":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode not in ("RGB", "RGBA", "L", "LA", "CMYK", "RGBa", "La"):
        im = im.convert("RGB")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        im = _flatten(im)
    if icc and not _is_srgb(icc):
        converted = _apply_icc(im, icc)
        if converted is not None:
            return converted
    return im if im.mode == "RGB" else im.convert("RGB")


def _flatten(im: Image.Image) -> Image.Image:
    base_mode = "L" if im.mode in ("LA", "La") else "RGB"
    if im.mode in ("RGBa", "La"):
        im = im.convert("RGBA" if base_mode == "RGB" else "LA")
    background = Image.new(base_mode, im.size, 255 if base_mode == "L" else (255, 255, 255))
    background.paste(im.convert(base_mode), mask=im.getchannel("A"))
    return background


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def _apply_icc(im: Image.Image, icc: bytes) -> Image.Image | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            im,
            source,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # an unreadable or mismatched profile: plain conversion instead
    return converted


def _cap(im: Image.Image, long_edge: int) -> Image.Image:
    largest = max(im.size)
    if largest <= long_edge:
        return im
    scale = long_edge / largest
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _capture_time(exif: Image.Exif, zone: tzinfo) -> tuple[datetime | None, str | None, str | None]:
    """(taken_at in UTC, the raw EXIF date, the raw EXIF offset) from the best tag present."""
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
    except (KeyError, ValueError, TypeError, OSError):
        ifd = {}
    candidates = (
        (ifd.get(_DATETIME_ORIGINAL), ifd.get(_OFFSET_TIME_ORIGINAL)),
        (ifd.get(_DATETIME_DIGITIZED), ifd.get(_OFFSET_TIME_DIGITIZED)),
        (exif.get(_DATETIME), ifd.get(_OFFSET_TIME)),
    )
    for raw, offset in candidates:
        parsed = parse_exif_datetime(raw, offset, zone)
        if parsed is not None:
            offset_text = offset.strip("\x00 ") if isinstance(offset, str) else None
            return parsed, str(raw).strip("\x00 "), offset_text
    return None, None, None


def parse_exif_datetime(raw: object, offset: object, zone: tzinfo) -> datetime | None:
    """An EXIF date (`YYYY:MM:DD HH:MM:SS`) with its optional offset (`+02:00`) as aware UTC.

    A date without an offset is local time in `zone`. Returns None for a missing or bogus date.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00 ")[:19]
    try:
        naive = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")  # the zone is applied below
    except ValueError:
        return None
    if naive.year < 1900:
        return None
    tz = _parse_offset(offset) or zone
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _parse_offset(value: object) -> tzinfo | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if text[0] == "+" else -delta)


def _minimal_exif(taken_raw: str | None, offset_raw: str | None) -> bytes:
    """EXIF with only the capture time (and its offset), or nothing."""
    if not taken_raw:
        return b""
    exif = Image.Exif()
    ifd = exif.get_ifd(_EXIF_IFD)
    ifd[_DATETIME_ORIGINAL] = taken_raw
    if offset_raw:
        ifd[_OFFSET_TIME_ORIGINAL] = offset_raw
    return exif.tobytes()
