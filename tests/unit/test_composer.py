"""The composer: Instagram-ready output, determinism, key regions, fonts, hostile inputs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw, ImageStat, JpegImagePlugin

from sociallab.config import reset_settings
from sociallab.content.composer import RETAINED_BLOCKS, Brand, compose
from sociallab.content.decode_budget import decode_budget
from sociallab.content.fonts import load_font
from sociallab.content.render import plan
from sociallab.content.render.brand import readable_on
from sociallab.content.render.paint import Paste, kept, paint, rect_ops
from sociallab.content.render.photo import open_photo
from sociallab.content.render.text import ELLIPSIS, fit, measure
from sociallab.content.templates import CANVAS_SIZES, FORMATS, builtin_specs, render_text, validate_spec
from sociallab.errors import DependencyUnavailableError, UnprocessableError
from tests.fixtures import images

pytestmark = pytest.mark.unit

NAMES = "Müller Ødegaard Nuñez Škriniar Çalhanoğlu"


def jpeg(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **params)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A 2400x1800 photo-like JPEG: mid-grey with texture, so text and scrims show against it."""
    image = Image.new("RGB", (2400, 1800), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for i in range(0, 2400, 60):
        draw.rectangle((i, 0, i + 29, 1800), fill=(150, 140, 130))
    return jpeg(image, quality=90)


@pytest.fixture(scope="module")
def brand() -> Brand:
    logo = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((0, 0, 299, 299), fill=(255, 0, 0, 255))
    return Brand(primary="#0B3D91", accent="#F5B700", logo=png(logo), name="Test FC")


def region(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    w, h = image.size
    return image.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))


@pytest.mark.parametrize("key", sorted(builtin_specs()))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_builtin_renders_an_instagram_ready_jpeg(key: str, fmt: str, photo: bytes, brand: Brand) -> None:
    spec = builtin_specs()[key]
    composed = compose(spec, spec.example, [photo], brand, format=fmt)
    image = Image.open(io.BytesIO(composed.jpeg))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == CANVAS_SIZES[fmt] == (composed.width, composed.height)
    assert not image.info.get("progressive") and not image.info.get("progression")
    assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    assert len(composed.jpeg) < 1_500_000  # far under Instagram's 8 MB
    preview = Image.open(io.BytesIO(composed.preview_jpeg))
    assert preview.size == (composed.preview_width, composed.preview_height) == (image.width // 2, image.height // 2)


def test_output_is_deterministic(photo: bytes, brand: Brand) -> None:
    spec = builtin_specs()["player_spotlight"]
    first = compose(spec, spec.example, [photo], brand, format="feed_4x5")
    second = compose(spec, dict(spec.example), [photo], brand, format="feed_4x5")
    assert hashlib.sha256(first.jpeg).digest() == hashlib.sha256(second.jpeg).digest()
    assert first.preview_jpeg == second.preview_jpeg
    other = compose(spec, {**spec.example, "player_name": "Someone Else"}, [photo], brand, format="feed_4x5")
    assert other.jpeg != first.jpeg


def test_key_regions_scrim_text_and_logo(photo: bytes, brand: Brand) -> None:
    spec = builtin_specs()["match_result"]
    image = Image.open(io.BytesIO(compose(spec, spec.example, [photo], brand, format="feed_4x5").jpeg))
    photo_area = ImageStat.Stat(region(image, (0.3, 0.25, 0.7, 0.33)).convert("L")).mean[0]
    scrim_area = ImageStat.Stat(region(image, (0.0, 0.86, 0.05, 0.9)).convert("L")).mean[0]
    assert scrim_area < photo_area - 40  # the scrim darkens the photo behind the text
    score_box = region(image, (0.25, 0.62, 0.75, 0.76)).convert("L")
    assert score_box.getextrema()[1] > 240  # white glyphs of the scoreline
    assert sum(score_box.histogram()[230:]) > 0.08 * score_box.width * score_box.height
    logo = region(image, (0.08, 0.06, 0.13, 0.1)).convert("RGB")  # centre of the red circle
    r, g, b = ImageStat.Stat(logo).mean
    assert r > 200 and g < 60 and b < 60


def test_text_layer_is_drawn_where_its_box_is(photo: bytes, brand: Brand) -> None:
    spec = builtin_specs()["announcement"]
    with_title = Image.open(io.BytesIO(compose(spec, spec.example, [photo], brand, format="feed_4x5").jpeg))
    no_title = Image.open(
        io.BytesIO(compose(spec, {**spec.example, "title": "."}, [photo], brand, format="feed_4x5").jpeg)
    )
    box = (0.07, 0.62, 0.93, 0.78)
    assert region(with_title, box).tobytes() != region(no_title, box).tobytes()
    above = (0.0, 0.0, 1.0, 0.3)  # layers elsewhere do not move
    assert region(with_title, above).tobytes() == region(no_title, above).tobytes()


@pytest.mark.parametrize("key", sorted(builtin_specs()))
def test_missing_data_uses_fallbacks_without_photos(key: str, brand: Brand) -> None:
    spec = builtin_specs()[key]
    for layer in spec.layers:
        if layer.type in ("text", "badge"):
            shown = render_text(layer.text, layer.fallback, {})
            assert "{" not in shown and "None" not in shown
    nulls = {name: None for name in spec.fields}
    composed = compose(spec, nulls, [], Brand(), format="square")
    assert Image.open(io.BytesIO(composed.jpeg)).size == (1080, 1080)


def test_no_photo_paints_the_brand_fallback() -> None:
    spec = builtin_specs()["matchday"]
    image = Image.open(io.BytesIO(compose(spec, {}, [], Brand(primary="#C00000"), format="feed_4x5").jpeg))
    r, g, b = image.getpixel((5, 5))
    assert r > 80 and r > 3 * max(g, b)  # the red primary, darkened


def test_draft_mode_never_decodes_a_12mp_photo_at_full_size() -> None:
    big = jpeg(Image.new("RGB", (4000, 3000), (90, 120, 150)), quality=80)
    decoded = open_photo(big, 1080, 1350)
    assert decoded.size == (2000, 1500)  # DCT scaling at 1/2 still covers the box
    small = open_photo(big, 400, 300)
    assert small.size == (500, 375)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (400, 200), (0, 0, 255))
    ImageDraw.Draw(image).rectangle((0, 0, 199, 199), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = open_photo(jpeg(image, exif=exif.tobytes()), 100, 100)
    assert decoded.size == (200, 400)
    assert decoded.getpixel((100, 50))[0] > 200  # the red half is on top after rotation


def test_unusual_modes_become_rgb() -> None:
    cmyk = jpeg(Image.new("CMYK", (64, 64), (0, 255, 255, 0)))
    assert open_photo(cmyk, 32, 32).mode == "RGB"
    sixteen = Image.new("I;16", (64, 64))
    sixteen.putdata([40000] * 64 * 64)
    decoded = open_photo(png(sixteen), 32, 32)
    assert decoded.mode == "RGB" and decoded.getpixel((0, 0))[0] > 100
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert open_photo(png(rgba), 32, 32).getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (64, 64), 3)
    assert open_photo(png(palette), 32, 32).mode == "RGB"


def test_hostile_photos_are_clear_422s(brand: Brand) -> None:
    spec = builtin_specs()["match_result"]
    good = jpeg(Image.new("RGB", (800, 600), (10, 200, 10)))
    for bad in (b"", b"not an image at all", good[: len(good) // 3] + b"\x00" * 10):
        with pytest.raises(UnprocessableError) as info:
            compose(spec, {}, [bad], brand, format="feed_4x5")
        assert info.value.status == 422
    with pytest.raises(UnprocessableError):
        compose(spec, {}, [good], brand, format="landscape")


def test_decompression_bomb_is_refused() -> None:
    # A PNG header declaring 100k x 100k pixels with a tiny body.
    import zlib

    header = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(UnprocessableError):
        open_photo(header + chunk, 1080, 1350)


def test_workspace_template_renders_with_overrides_and_hex_colours() -> None:
    spec = validate_spec(
        {
            "key": "club.simple",
            "name": "Simple",
            "content_type": "announcement",
            "formats": ["square"],
            "layers": [
                {"id": "bg", "type": "shape", "fill": "#00FF00"},
                {
                    "id": "bar",
                    "type": "shape",
                    "box": [0, 0.5, 1, 0.5],
                    "fill": "#0000FF80",
                    "overrides": {"square": {"box": [0, 0.75, 1, 0.25]}},
                },
            ],
        }
    )
    image = Image.open(io.BytesIO(compose(spec, {}, [], Brand(), format="square").jpeg))
    top = image.getpixel((540, 600))
    bottom = image.getpixel((540, 1000))
    assert top[1] > 200 and top[2] < 40  # green where the bar moved away from
    assert bottom[2] > 90 and bottom[1] < 170  # half-transparent blue over green


# --- fonts and fitting ----------------------------------------------------------------------------


@pytest.mark.parametrize("weight", ["regular", "semibold", "bold", "black"])
def test_fonts_have_real_glyphs_for_accented_names(weight: str) -> None:
    font = load_font("Inter", weight, 48)
    notdef = font.getmask("\U000f0000")  # a private-use code point: the font's .notdef box
    notdef_bytes = bytes(Image.Image()._new(notdef).tobytes())
    for ch in NAMES.replace(" ", "") + "\u2013·…“":
        mask = font.getmask(ch)
        assert mask.getbbox() is not None, ch
        assert (mask.size, bytes(Image.Image()._new(mask).tobytes())) != (notdef.size, notdef_bytes), ch


def test_unknown_brand_font_falls_back_to_inter() -> None:
    assert load_font("Comic Whatever", "bold", 40).getname()[0].startswith("Inter")


def test_fit_shrinks_then_wraps_then_ellipsises() -> None:
    kwargs = {"family": "Inter", "weight": "bold", "height": 400, "min_size": 20, "max_lines": 2, "line_height": 1.1}
    short = fit("GOAL", width=800, max_size=120, **kwargs)
    assert short.size == 120 and short.lines == ["GOAL"]
    longer = fit(NAMES, width=800, max_size=120, **kwargs)
    assert 20 <= longer.size < 120 and len(longer.lines) <= 2
    assert all(measure(longer.font, line) <= 800 for line in longer.lines)
    huge = fit("word " * 200, width=500, max_size=60, **kwargs)
    assert huge.size == 20 and len(huge.lines) == 2 and huge.lines[-1].endswith(ELLIPSIS)
    assert all(measure(huge.font, line) <= 500 for line in huge.lines)
    one_word = fit("Mönchengladbachmönchengladbach" * 3, width=300, max_size=40, **kwargs)
    assert one_word.lines[0].endswith(ELLIPSIS) and measure(one_word.font, one_word.lines[0]) <= 300


def test_measure_matches_freetype() -> None:
    font = load_font("Inter", "black", 97)
    for text in (NAMES, "AVATAR To", "We never stopped believing."):
        assert measure(font, text) == font.getlength(text)


def test_readable_text_colour_on_brand_colours() -> None:
    assert readable_on("#FFFFFF") == "#111111"
    assert readable_on("#0B3D91") == "#FFFFFF"
    assert Brand(accent="#F5B700").color("text_on_accent")[:3] == (0x11, 0x11, 0x11)
    assert Brand.from_workspace({"primary_color": "#123456", "name": "Club"}).primary == "#123456"


# --- logos within the decode limits ---------------------------------------------------------------


def logo_colour(composed: bytes) -> tuple[float, ...]:
    image = Image.open(io.BytesIO(composed))
    return tuple(ImageStat.Stat(region(image, (0.08, 0.06, 0.13, 0.1)).convert("RGB")).mean)


def test_a_logo_over_its_pixel_ceiling_is_not_decoded_and_the_monogram_stands_in(
    photo: bytes, brand: Brand, caplog: pytest.LogCaptureFixture
) -> None:
    spec = builtin_specs()["match_result"]
    poster = images.flat_png(7100, 7100, rgba=(255, 0, 0, 255))  # red, 50.4 MP: over PNG's 50 MP
    composed = compose(spec, spec.example, [photo], replace(brand, logo=poster), format="feed_4x5")
    r, g, b = logo_colour(composed.jpeg)
    assert not (r > 200 and g < 60 and b < 60)  # no red logo: the monogram is drawn
    assert any("PNG images may have at most 50 megapixels" in str(getattr(rec, "reason", "")) for rec in caplog.records)


def test_a_logo_waits_for_the_decode_budget_like_an_upload(
    photo: bytes, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "0")
    reset_settings()
    budget = decode_budget()
    logo = Image.new("RGBA", (301, 300), (255, 0, 0, 255))  # a logo not decoded (cached) before
    spec = builtin_specs()["match_result"]
    with budget.hold_blocking(budget.capacity), pytest.raises(DependencyUnavailableError):
        compose(spec, spec.example, [photo], replace(brand, logo=png(logo)), format="feed_4x5")
    r, g, b = logo_colour(compose(spec, spec.example, [photo], replace(brand, logo=png(logo)), format="feed_4x5").jpeg)
    assert r > 200 and g < 60 and b < 60


# --- plans: what does not depend on the post, prepared once per template, format and brand ---------


def test_a_warm_plan_renders_the_same_bytes_as_a_cold_one(photo: bytes) -> None:
    spec = builtin_specs()["announcement"]  # its leading layers are painted once onto a base canvas
    brand = Brand(primary="#123456", accent="#ABCDEF", name="Cold FC")  # a brand no other test uses
    data = {**spec.example, "title": "Second post", "body": "Another text over the same layers."}
    cold = compose(spec, spec.example, [photo], brand, format="story_9x16")
    other = compose(spec, data, [photo], brand, format="story_9x16")  # the same plan, drawn for another post
    warm = compose(spec, spec.example, [photo], brand, format="story_9x16")
    assert warm.jpeg == cold.jpeg  # nothing a render paints lands in the cached images
    assert other.jpeg != cold.jpeg


def test_a_kept_colour_paste_paints_what_the_colour_paints() -> None:
    op = rect_ops((10, 20, 310, 140), (200, 30, 60, 180), radius=40)[0]  # a colour through a rounded mask
    ready = kept(op)
    assert isinstance(ready, Paste) and isinstance(ready.source, Image.Image)
    painted, prepared = Image.new("RGB", (400, 200), (10, 200, 90)), Image.new("RGB", (400, 200), (10, 200, 90))
    paint(painted, [op])
    paint(prepared, [ready])
    assert prepared.tobytes() == painted.tobytes() and painted.getpixel((160, 80)) != (10, 200, 90)


def test_concurrent_renders_of_a_new_plan_agree(photo: bytes) -> None:
    spec = builtin_specs()["match_result"]
    brand = Brand(primary="#204060", accent="#E0A010", name="Threads FC")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: compose(spec, spec.example, [photo], brand, format="square").jpeg, range(6)))
    assert len(set(results)) == 1


def test_a_new_brand_colour_or_logo_gets_a_new_plan(photo: bytes) -> None:
    spec = builtin_specs()["quote"]
    first_logo = Image.new("RGBA", (200, 200), (255, 0, 0, 255))
    brand = Brand(primary="#0B3D91", accent="#F5B700", logo=png(first_logo), name="Plan FC")
    before = compose(spec, spec.example, [photo], brand, format="feed_4x5")
    recoloured = compose(spec, spec.example, [photo], replace(brand, accent="#00C853"), format="feed_4x5")
    second_logo = png(Image.new("RGBA", (200, 200), (0, 255, 0, 255)))
    relogoed = compose(spec, spec.example, [photo], replace(brand, logo=second_logo), format="feed_4x5")

    def mean(composed: bytes, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        return tuple(ImageStat.Stat(region(Image.open(io.BytesIO(composed)), box)).mean)

    rule = (0.075, 0.761, 0.16, 0.764)  # the accent rule under the quote
    assert mean(before.jpeg, rule)[0] > 200 and mean(recoloured.jpeg, rule)[0] < 60  # green accent, not yellow
    logo = (0.85, 0.9, 0.92, 0.94)  # inside the logo, right-aligned in its box
    r, g, _ = mean(relogoed.jpeg, logo)
    assert g > 200 and r < 60  # the new green logo, not the cached red one
    assert mean(before.jpeg, logo)[0] > 200


def test_the_plan_cache_stays_bounded(photo: bytes) -> None:
    spec = builtin_specs()["matchday"]
    for i in range(plan._MAX_PLANS + 4):
        compose(spec, {}, [], Brand(primary=f"#{i:02X}3344", name="Bound FC"), format="story_9x16")
    assert len(plan._cache) <= plan._MAX_PLANS
    assert sum(p.nbytes for p in plan._cache.values()) <= plan._MAX_BYTES


def test_a_grayscale_photo_with_a_colour_profile_is_still_made_grey(brand: Brand) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    tagged = jpeg(Image.new("RGB", (1600, 1200), (200, 30, 30)), icc_profile=profile)
    assert open_photo(tagged, 800, 600, grey=True).mode == "RGB"  # decoded through its profile
    assert open_photo(jpeg(Image.new("RGB", (1600, 1200), (200, 30, 30))), 800, 600, grey=True).mode == "L"
    spec = builtin_specs()["quote"]
    image = Image.open(io.BytesIO(compose(spec, {}, [tagged], brand, format="square").jpeg)).convert("RGB")
    untagged = jpeg(Image.new("RGB", (1600, 1200), (200, 30, 30)))
    plain = Image.open(io.BytesIO(compose(spec, {}, [untagged], brand, format="square").jpeg)).convert("RGB")
    corner = (0.0, 0.0, 0.05, 0.05)
    tagged_mean = ImageStat.Stat(region(image, corner)).mean
    plain_mean = ImageStat.Stat(region(plain, corner)).mean
    assert max(abs(a - b) for a, b in zip(tagged_mean, plain_mean, strict=True)) < 60


REUSE = """
import io, json
from PIL import Image
from sociallab.content.composer import Brand, compose
from sociallab.content.templates import builtin_specs

photo = io.BytesIO()
Image.new("RGB", (2400, 1800), (90, 120, 60)).save(photo, "JPEG")
spec = builtin_specs()["match_result"]
compose(spec, spec.example, [photo.getvalue()], Brand(), format="story_9x16")
before = Image.core.get_stats()["reused_blocks"]
compose(spec, spec.example, [photo.getvalue()], Brand(), format="story_9x16")
print(json.dumps({"kept": Image.core.get_blocks_max(), "reused": Image.core.get_stats()["reused_blocks"] - before}))
"""


@pytest.mark.parametrize("setting", [None, "0"])
def test_the_next_post_reuses_the_image_memory_of_the_last_unless_the_operator_says_otherwise(
    setting: str | None,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PILLOW_BLOCKS_MAX"}
    if setting is not None:
        env["PILLOW_BLOCKS_MAX"] = setting
    done = subprocess.run([sys.executable, "-c", REUSE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    if setting is None:
        assert measured["kept"] == RETAINED_BLOCKS and measured["reused"] > 0
    else:
        assert measured == {"kept": 0, "reused": 0}
