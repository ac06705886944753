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
- empty, truncated or corrupt files, more pixels than its format's ceiling or a side over
  `decoding.MAX_SIDE` (read from the header, before decoding; `decoding.MAX_PIXELS`: 80 MP for JPEG, lower
  for the formats that cannot be decoded at a reduced size), and Pillow's decompression-bomb
  guard: `UnprocessableError` (422). `ImageFile.LOAD_TRUNCATED_IMAGES` is never set.
- `process_image` decodes within the process's decode budget (`decode_budget`): a file needing
  more than all of it is 413; when the budget stays full too long, 503 (try again).

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
  photo without upscaling. JPEGs much larger than that are decoded with DCT scaling (draft mode);
  other formats are converted and resized strip by strip (`decoding`), never copied at full size.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image

from sociallab.content.decode_budget import decode_budget
from sociallab.content.decoding import ImageKind, Source, decoder_errors, open_source
from sociallab.content.fitting import fit_srgb, fitted_size, orient
from sociallab.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError

MAX_BYTES = 40 * 1024 * 1024
NORMALIZED_LONG_EDGE = 2560
NORMALIZED_QUALITY = 90
# Instagram's image specification: JPEG, sRGB, 320 to 1,440 px wide, 8 MB at most. 1,080 is what it shows.
PUBLISH_WIDTH = 1080
PUBLISH_QUALITY = 90

MIME_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}
EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "heic": "heic"}
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
    rendition: bytes  # what Instagram receives when the photo is posted as it is: sRGB JPEG, <= PUBLISH_WIDTH wide
    rendition_width: int
    rendition_height: int


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
    """Decode, check and normalise one image (CPU-bound, outside the decode budget: call
    `process_image` from async code).

    `timezone` interprets a capture time without an offset (the workspace's time zone).

    Raises:
        PayloadTooLargeError: over 40 MB.
        UnsupportedMediaTypeError: not JPEG, PNG, WebP or HEIC/HEIF by content.
        UnprocessableError: empty, truncated, corrupt, too many pixels, or a decompression bomb.
    """
    check_size(len(data))
    kind = sniff(data[:64])
    with decoder_errors(), open_source(data, kind, reduce_to=NORMALIZED_LONG_EDGE) as source:
        return _normalize(source, data, _zone(timezone))


def decode_cost(data: bytes) -> int:
    """Bytes of memory `normalize_image(data)` needs at its peak, from the header alone.

    Raises:
        PayloadTooLargeError, UnsupportedMediaTypeError, UnprocessableError: see `normalize_image`.
    """
    check_size(len(data))
    kind = sniff(data[:64])
    with decoder_errors(), open_source(data, kind, reduce_to=NORMALIZED_LONG_EDGE) as source:
        return source.cost


async def process_image(data: bytes, *, timezone: str | tzinfo = "UTC") -> NormalizedImage:
    """`normalize_image` in a worker thread once the process's decode budget has room for it.

    Raises:
        PayloadTooLargeError: over 40 MB, or it needs more memory than the whole decode budget.
        UnsupportedMediaTypeError, UnprocessableError: see `normalize_image`.
        DependencyUnavailableError: the decode budget stayed full (try again shortly).
    """
    cost = await asyncio.to_thread(decode_cost, data)
    return await decode_budget().run(cost, functools.partial(normalize_image, data, timezone=timezone))


def _rendition(rgb: Image.Image) -> tuple[bytes, int, int]:
    """Instagram's copy of a normalised photo: at most PUBLISH_WIDTH wide, sRGB JPEG, no metadata (a 1,080 px
    JPEG at this quality stays far below Instagram's 8 MB)."""
    if rgb.width > PUBLISH_WIDTH:
        height = max(1, round(rgb.height * PUBLISH_WIDTH / rgb.width))
        rgb = rgb.resize((PUBLISH_WIDTH, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=PUBLISH_QUALITY, optimize=True)
    return out.getvalue(), rgb.width, rgb.height


def _zone(value: str | tzinfo) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _normalize(source: Source, data: bytes, zone: tzinfo) -> NormalizedImage:
    source.load()
    exif = source.exif()
    taken_at, taken_raw, offset_raw = _capture_time(exif, zone)
    orientation = exif.get(_ORIENTATION, 1)
    width, height = source.full_size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    rgb = orient(fit_srgb(source, fitted_size(source.size, NORMALIZED_LONG_EDGE)), orientation)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=NORMALIZED_QUALITY, exif=_minimal_exif(taken_raw, offset_raw))
    rendition, rendition_width, rendition_height = _rendition(rgb)
    return NormalizedImage(
        kind=source.kind,
        mime_type=MIME_TYPES[source.kind],
        extension=EXTENSIONS[source.kind],
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        size=len(data),
        width=width,
        height=height,
        taken_at=taken_at,
        normalized=out.getvalue(),
        normalized_width=rgb.width,
        normalized_height=rgb.height,
        rendition=rendition,
        rendition_width=rendition_width,
        rendition_height=rendition_height,
    )


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
