"""Image intake: what it accepts and makes of it, and how it refuses the hostile corpus."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image

from sociallab.content import intake
from sociallab.content.intake import NormalizedImage, normalize_image, parse_exif_datetime, sniff
from sociallab.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError
from tests.fixtures import images

pytestmark = pytest.mark.unit


def decoded(result: NormalizedImage) -> Image.Image:
    im = Image.open(io.BytesIO(result.normalized))
    assert im.format == "JPEG"
    assert im.mode == "RGB"
    assert im.size == (result.normalized_width, result.normalized_height)
    return im


def close(pixel: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 30) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- accepted -------------------------------------------------------------------------------------


def test_a_plain_jpeg_keeps_its_size_md5_and_colours() -> None:
    data = images.jpeg((640, 480))
    result = normalize_image(data)
    assert (result.kind, result.mime_type, result.extension) == ("jpeg", "image/jpeg", "jpg")
    assert result.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert result.size == len(data)
    assert (result.width, result.height) == (640, 480)
    im = decoded(result)
    assert im.size == (640, 480)
    assert close(im.getpixel((10, 240)), images.RED)
    assert close(im.getpixel((630, 240)), images.BLUE)
    assert result.taken_at is None


@pytest.mark.parametrize(
    ("orientation", "size", "top_left_colour"),
    [
        (1, (640, 480), images.RED),
        (3, (640, 480), images.BLUE),
        (6, (480, 640), images.RED),
        (8, (480, 640), images.BLUE),
    ],
)
def test_exif_orientation_is_applied(orientation: int, size: tuple[int, int], top_left_colour: tuple) -> None:
    result = normalize_image(images.jpeg((640, 480), orientation=orientation))
    assert (result.width, result.height) == size
    im = decoded(result)
    assert im.size == size
    assert close(im.getpixel((5, 5)), top_left_colour)
    assert im.getexif().get(0x0112) is None  # the orientation is baked in, not left to apply twice


def test_capture_time_with_offset_is_kept_and_everything_else_stripped() -> None:
    data = images.jpeg(taken="2025:05:04 18:30:00", offset="+02:00")
    result = normalize_image(data, timezone="America/New_York")
    assert result.taken_at == datetime(2025, 5, 4, 16, 30, tzinfo=UTC)
    exif = decoded(result).getexif()
    assert exif.get_ifd(0x8769) == {0x9003: "2025:05:04 18:30:00", 0x9011: "+02:00"}
    assert 0x010F not in exif  # camera make
    assert exif.get_ifd(0x8825) == {}  # GPS
    assert b"PhoneMaker" not in result.normalized


def test_a_capture_time_without_offset_is_local_to_the_workspace() -> None:
    result = normalize_image(images.jpeg(taken="2025:01:10 20:00:00"), timezone="Europe/Madrid")
    assert result.taken_at == datetime(2025, 1, 10, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "offset", "expected"),
    [
        ("2025:05:04 18:30:00", "-03:00", datetime(2025, 5, 4, 21, 30, tzinfo=UTC)),
        (b"2025:05:04 18:30:00\x00", None, datetime(2025, 5, 4, 18, 30, tzinfo=UTC)),
        ("0000:00:00 00:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        ("2025-05-04T18:30:00", None, None),
        (None, None, None),
        ("2025:05:04 18:30:00", "+99:00", datetime(2025, 5, 4, 18, 30, tzinfo=UTC)),
    ],
)
def test_parse_exif_datetime(raw: object, offset: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(raw, offset, UTC) == expected


def test_a_large_jpeg_is_decoded_at_draft_scale_and_capped() -> None:
    result = normalize_image(images.noisy_jpeg((6000, 4000)))
    assert (result.width, result.height) == (6000, 4000)
    assert (result.normalized_width, result.normalized_height) == (2560, 1707)
    assert decoded(result).size == (2560, 1707)


def test_a_heic_from_a_phone_is_rotated_and_dated() -> None:
    result = normalize_image(images.heic_from_phone())
    assert (result.kind, result.mime_type, result.extension) == ("heic", "image/heic", "heic")
    assert (result.width, result.height) == (480, 640)
    assert result.taken_at == datetime(2025, 5, 4, 16, 30, tzinfo=UTC)
    im = decoded(result)
    assert close(im.getpixel((240, 10)), images.RED, 40)  # the left half ends up on top
    assert close(im.getpixel((240, 630)), images.BLUE, 40)


def test_webp_and_the_first_frame_of_an_animated_one() -> None:
    assert normalize_image(images.webp()).kind == "webp"
    result = normalize_image(images.animated_webp())
    assert close(decoded(result).getpixel((60, 40)), images.RED)


def test_wrong_extension_does_not_matter_content_does() -> None:
    # intake never sees the name; a PNG sent as "photo.jpg" is a PNG
    result = normalize_image(images.png())
    assert (result.kind, result.extension) == ("png", "png")


def test_cmyk_without_a_profile_becomes_rgb() -> None:
    im = decoded(normalize_image(images.cmyk_jpeg()))
    assert close(im.getpixel((50, 50)), (0, 255, 255), 40)  # cyan
    assert close(im.getpixel((150, 50)), (255, 255, 0), 40)  # yellow


def test_cmyk_with_a_mismatched_profile_still_converts() -> None:
    im = decoded(normalize_image(images.cmyk_jpeg(icc=images.swapped_primaries_profile())))
    assert close(im.getpixel((50, 50)), (0, 255, 255), 40)


def test_an_embedded_icc_profile_is_honoured() -> None:
    # pure red in a profile whose "red" is sRGB's blue must come out blue
    data = images.jpeg((100, 50), left=(255, 0, 0), right=(255, 0, 0), icc=images.swapped_primaries_profile())
    im = decoded(normalize_image(data))
    r, g, b = im.getpixel((50, 25))
    assert b > 180 and r < 60, (r, g, b)


def test_an_srgb_profile_changes_nothing() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = decoded(normalize_image(images.jpeg((100, 50), icc=srgb)))
    assert close(im.getpixel((10, 25)), images.RED)


def test_16_bit_grayscale_is_scaled_not_clipped() -> None:
    im = decoded(normalize_image(images.png_16bit_gray(40000)))
    assert close(im.getpixel((5, 5)), (156, 156, 156), 3)


def test_16_bit_rgb() -> None:
    im = decoded(normalize_image(images.png_16bit_rgb((0xFF00, 0x8000, 0x0000))))
    assert close(im.getpixel((5, 5)), (255, 128, 0), 4)


def test_transparency_is_flattened_onto_white() -> None:
    palette = decoded(normalize_image(images.palette_png_with_transparency()))
    assert close(palette.getpixel((10, 25)), (255, 255, 255), 3)
    assert close(palette.getpixel((90, 25)), images.BLUE, 10)
    gray = decoded(normalize_image(images.gray_alpha_png()))
    assert close(gray.getpixel((10, 25)), (255, 255, 255), 3)
    assert close(gray.getpixel((90, 25)), (0, 0, 0), 3)


def test_output_is_deterministic() -> None:
    data = images.noisy_jpeg((1200, 900))
    assert normalize_image(data).normalized == normalize_image(data).normalized


# --- refused --------------------------------------------------------------------------------------

HOSTILE: list[tuple[str, Callable[[], bytes], type[Exception], str]] = [
    ("zero-byte", images.zero_byte, UnprocessableError, "empty"),
    ("truncated JPEG", images.truncated_jpeg, UnprocessableError, "decoded"),
    ("PNG bomb", images.png_bomb, UnprocessableError, "megapixels"),
    ("huge JPEG dimensions", images.jpeg_with_huge_dimensions, UnprocessableError, "megapixels"),
    ("animated GIF", images.animated_gif, UnsupportedMediaTypeError, "GIF"),
    ("PDF", images.pdf, UnsupportedMediaTypeError, "PDF"),
    ("text", images.text_file, UnsupportedMediaTypeError, "not a supported image"),
    ("AVIF", images.avif_like, UnsupportedMediaTypeError, "AVIF"),
    ("MP4", images.mp4_like, UnsupportedMediaTypeError, "not a supported image"),
    ("PNG header then garbage", lambda: images.png()[:40] + b"\x00" * 100, UnprocessableError, ""),
    ("JPEG header then garbage", lambda: b"\xff\xd8\xff\xe0" + b"\x13" * 500, UnprocessableError, ""),
    ("HEIC header then garbage", lambda: images.heic_from_phone()[:60] + b"\x00" * 200, UnprocessableError, ""),
    ("WebP header then garbage", lambda: b"RIFF\x00\x01\x00\x00WEBPVP8 " + b"\x00" * 300, UnprocessableError, ""),
]


@pytest.mark.parametrize(("name", "make", "error", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_the_hostile_corpus_gets_a_clear_error(
    name: str, make: Callable[[], bytes], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        normalize_image(make())
    assert words in str(caught.value)
    assert caught.value.status in (413, 415, 422)  # type: ignore[attr-defined]


def test_over_40_mb_is_413_before_decoding() -> None:
    with pytest.raises(PayloadTooLargeError):
        normalize_image(b"\xff\xd8\xff" + b"\x00" * (40 * 1024 * 1024))
    with pytest.raises(PayloadTooLargeError):
        intake.check_size(40 * 1024 * 1024 + 1)
    intake.check_size(40 * 1024 * 1024)
    intake.check_size(None)


def test_sniff_ignores_everything_but_content() -> None:
    assert sniff(images.jpeg()[:64]) == "jpeg"
    assert sniff(images.png()[:64]) == "png"
    assert sniff(images.webp()[:64]) == "webp"
    assert sniff(images.heic_from_phone()[:64]) == "heic"


async def test_process_image_runs_in_a_thread() -> None:
    result = await intake.process_image(images.jpeg())
    assert result.width == 640
