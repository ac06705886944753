"""Text shadows are blurred only around the ink, with exactly the pixels of blurring the whole box."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from sociallab.content.fonts import load_font
from sociallab.content.render import text as textlib

pytestmark = pytest.mark.unit


def blurred_whole(mask: Image.Image, blur: int) -> Image.Image:
    """The shadow as it was drawn before: every pixel of the text's region blurred."""
    if blur <= 0:
        return mask
    if blur < 4 or min(mask.size) < 8:
        return mask.filter(ImageFilter.GaussianBlur(blur))
    small = mask.reduce(2).filter(ImageFilter.GaussianBlur(blur / 2))
    return small.resize(mask.size, Image.Resampling.BILINEAR)


def test_a_shadow_blurred_around_its_ink_equals_the_whole_box_blurred() -> None:
    rng = random.Random(7)
    for _ in range(150):
        size = (rng.randint(20, 700), rng.randint(20, 400))  # odd and even sides
        mask = Image.new("L", size, 0)
        origin = (rng.randint(-80, size[0]), rng.randint(-60, size[1]))  # ink cut by the edges too
        font = load_font("inter", "black", rng.randint(10, 150))
        ImageDraw.Draw(mask).text(origin, rng.choice(["3 - 2", "Ågj", "x"]), font=font, fill=255)
        blur = rng.choice([0, 2, 3, 4, 5, 6, 10, 12, 14, 20])
        part, (left, top) = textlib._soft(mask, blur)
        drawn = Image.new("L", size, 0)
        drawn.paste(part, (left, top))
        expected = blurred_whole(mask, blur)
        assert ImageChops.difference(drawn, expected).getbbox() is None, (size, origin, blur)
        assert part.size[0] * part.size[1] <= size[0] * size[1]


def test_the_part_blurred_is_much_smaller_than_the_box_for_a_scoreline() -> None:
    mask = Image.new("L", (1080, 526), 0)
    ImageDraw.Draw(mask).text((326, 260), "3 - 2", font=load_font("inter", "black", 200), fill=255, anchor="ls")
    part, _ = textlib._soft(mask, 14)
    assert part.width * part.height < 0.3 * mask.width * mask.height
