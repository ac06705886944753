"""Generated sample match photos for the demo workspace (no photo files ship with the project)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

KITS = [((200, 30, 45), (245, 245, 245)), ((20, 60, 160), (255, 210, 0)), ((250, 250, 250), (20, 20, 20))]


def match_photo(seed: int, size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A blurred stadium scene: sky, stands, pitch and players in two kits. Same seed, same bytes."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    horizon = int(height * rng.uniform(0.38, 0.48))
    for y in range(horizon):  # evening sky
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=(int(40 + 60 * t), int(70 + 80 * t), int(130 + 90 * t)))
    draw.rectangle([0, int(horizon * 0.7), width, horizon], fill=(45, 45, 55))  # stands
    for y in range(horizon, height):  # mown pitch stripes
        shade = 110 if ((y - horizon) // 90) % 2 else 130
        draw.line([(0, y), (width, y)], fill=(30, shade, 45))
    home, away = rng.sample(KITS, 2)
    for i in range(rng.randint(5, 9)):
        x = int(width * (0.08 + 0.84 * (i + rng.random() * 0.5) / 9))
        scale = rng.uniform(0.8, 1.25)
        top = int(horizon + height * 0.08 * rng.random())
        shirt, shorts = home if i % 2 else away
        body_w, body_h = int(110 * scale), int(300 * scale)
        draw.ellipse([x - 45 * scale, top - 95 * scale, x + 45 * scale, top - 5 * scale], fill=(224, 180, 150))
        draw.rectangle([x - body_w // 2, top, x + body_w // 2, top + body_h], fill=shirt)
        draw.rectangle([x - body_w // 2, top + body_h, x + body_w // 2, top + body_h + 110 * scale], fill=shorts)
    draw.ellipse([width * 0.6, height * 0.8, width * 0.6 + 60, height * 0.8 + 60], fill=(250, 250, 250))
    image = image.filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()
