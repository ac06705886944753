"""Image intake: what it accepts and makes of it, and how it refuses the hostile corpus."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageChops

from sociallab.config import reset_settings
from sociallab.content import decoding, fitting, intake
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


CEILINGS: list[tuple[str, Callable[[], bytes], str]] = [
    ("PNG 7100x7100", lambda: images.flat_png(7100, 7100), "PNG images may have at most 50 megapixels"),
    ("WebP 4100x3000", lambda: images.flat_webp(4100, 3000), "WebP images may have at most 12 megapixels"),
    ("HEIC 9000x6000", lambda: images.heic_declaring(9000, 6000), "HEIC images may have at most 52 megapixels"),
    (
        "progressive JPEG 6400x4800",
        lambda: images.jpeg_with_huge_dimensions(6400, 4800, progressive=True),
        "progressive JPEG images may have at most 30 megapixels",
    ),
]


@pytest.mark.parametrize(("name", "make", "words"), CEILINGS, ids=[c[0] for c in CEILINGS])
def test_formats_that_cannot_be_decoded_at_a_reduced_size_have_a_lower_ceiling(
    name: str, make: Callable[[], bytes], words: str
) -> None:
    data = make()  # each under the 80 MP that a (baseline) JPEG may have
    with pytest.raises(UnprocessableError) as refused:
        normalize_image(data)
    assert words in refused.value.message
    assert refused.value.status == 422
    with pytest.raises(UnprocessableError):
        intake.decode_cost(data)  # refused from the header, before anything is decoded


@pytest.mark.parametrize(
    ("ceiling", "size"),
    [
        ("jpeg", (8160, 6120)),  # 50 MP phones (Samsung, Xiaomi)
        ("jpeg", (8064, 6048)),  # 48 MP iPhone
        ("jpeg", (4032, 3024)),  # 12 MP phone
        ("jpeg", (10328, 7744)),  # 80 MP
        ("heic", (8160, 6120)),
        ("heic", (8064, 6048)),
        ("png", (6000, 8000)),
        ("webp", (4000, 3000)),
        ("jpeg_progressive", (6000, 4000)),  # a 24 MP camera's export
    ],
)
def test_what_phones_and_cameras_make_stays_within_the_ceilings(ceiling: str, size: tuple[int, int]) -> None:
    decoding.check_ceiling(ceiling, size)


def test_a_progressive_jpeg_is_charged_for_its_full_size_coefficients() -> None:
    baseline = intake.decode_cost(images.jpeg_with_huge_dimensions(6000, 4000))
    progressive = intake.decode_cost(images.jpeg_with_huge_dimensions(6000, 4000, progressive=True))
    # DCT scaling decodes 3000x2000 of either; libjpeg keeps 1.5 samples x 2 bytes per full-size pixel more
    assert progressive - baseline == 2 * 6000 * 4000 * 3 // 2


def test_a_large_transparent_png_is_resized_in_strips_like_one_resize() -> None:
    # a vertical gradient, half transparent: a seam between strips would show as a step between rows
    size = (1000, 9000)
    gradient = Image.linear_gradient("L").resize(size)
    source = Image.merge("RGBA", (gradient, gradient, Image.new("L", size, 64), Image.new("L", size, 128)))
    out = io.BytesIO()
    source.save(out, "PNG", compress_level=1)
    with decoding.open_source(out.getvalue(), "png", reduce_to=2560) as opened:
        fitted = fitting.fit_srgb(opened, fitting.fitted_size(opened.size, 2560))
    expected = Image.new("RGB", size, (255, 255, 255))
    expected.paste(source.convert("RGB"), mask=source.getchannel("A"))
    expected = expected.resize((284, 2560), Image.Resampling.LANCZOS)
    assert fitted.size == (284, 2560)
    assert max(high for _, high in ImageChops.difference(fitted, expected).getextrema()) <= 1
    assert decoded(normalize_image(out.getvalue())).size == (284, 2560)


async def test_process_image_refuses_an_image_the_whole_decode_budget_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMAGE_DECODE_BUDGET_MIB", "8")
    reset_settings()
    data = images.noisy_jpeg((2000, 1500))  # needs ~ 30 MiB
    with pytest.raises(PayloadTooLargeError) as refused:
        await intake.process_image(data)
    assert "this server decodes at most 8 MiB at a time" in refused.value.message
    monkeypatch.setenv("IMAGE_DECODE_BUDGET_MIB", "512")
    reset_settings()
    assert (await intake.process_image(data)).width == 2000


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
