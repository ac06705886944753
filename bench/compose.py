"""`python -m bench compose`: render every built-in template in every format from a 12 MP JPEG.

Prints one JSON line per template and format::

    {"bench": "compose.match_result.feed_4x5", "source": "12MP", "p50_ms": ..., "p95_ms": ...,
     "limit_ms": ..., "ratio": ..., "bytes": ...}

`limit_ms` is measured in the same run: the bare minimum any composer must do for that format
(decode the same source at draft scale + encode a canvas-size JPEG). Targets: p50 <= 80 ms for
feed_4x5 and p50 / limit <= 1.5 (issue 7). Options: `--iterations N` (default 21), `--templates a,b`,
`--formats x,y`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import time
from collections.abc import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from sociallab.content.composer import Brand, compose, encode_jpeg
from sociallab.content.templates import CANVAS_SIZES, builtin_specs


def sample_photo(width: int = 4000, height: int = 3000, *, quality: int = 92) -> bytes:
    """A photo-like JPEG (sky, pitch, figures, sensor noise) so decode costs what a camera file costs."""
    buffer = io.BytesIO()
    sample_picture(width, height).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def sample_picture(width: int, height: int, *, noise: float = 12) -> Image.Image:
    """The picture of `sample_photo` as RGB (`noise` 0: none, for files that compress like graphics)."""
    small = Image.new("RGB", (width // 8, height // 8))
    draw = ImageDraw.Draw(small)
    w, h = small.size
    for y in range(h):
        t = y / h
        colour = (int(70 + 110 * t), int(120 + 50 * t), int(200 - 120 * t)) if t < 0.45 else (40, int(130 + 30 * t), 50)
        draw.line((0, y, w, y), fill=colour)
    for i in range(9):
        x = int(w * (0.06 + i * 0.105))
        top = int(h * (0.4 + (i % 3) * 0.03))
        draw.ellipse((x, top, x + w // 18, top + w // 18), fill=(225, 185, 150))
        draw.rectangle(
            (x - 4, top + w // 18, x + w // 18 + 4, int(h * 0.78)), fill=(200, 20, 40) if i % 2 else (245, 245, 245)
        )
    scene = small.filter(ImageFilter.GaussianBlur(2)).resize((width, height), Image.Resampling.BICUBIC)
    if not noise:
        return scene
    return ImageChops.add(scene, Image.effect_noise((width, height), noise).convert("RGB"), 1.0, -128)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def _time(fn: Callable[[], object], iterations: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bare_minimum(source: bytes, fmt: str) -> None:
    """Decode `source` at the draft scale that covers the canvas, then encode a canvas-size JPEG."""
    width, height = CANVAS_SIZES[fmt]
    image = Image.open(io.BytesIO(source))
    scale = max(width / image.width, height / image.height)
    image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    encode_jpeg(image.crop((0, 0, width, height)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench compose")
    parser.add_argument("--iterations", type=int, default=21)
    parser.add_argument("--templates", default="")
    parser.add_argument("--formats", default="")
    args = parser.parse_args(argv)
    specs = builtin_specs()
    keys = [k for k in args.templates.split(",") if k] or sorted(specs)
    formats = [f for f in args.formats.split(",") if f] or list(CANVAS_SIZES)
    source = sample_photo()
    logo = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 255, 255, 255)).save(logo, "PNG")
    brand = Brand(primary="#0B3D91", accent="#F5B700", logo=logo.getvalue(), name="Bench FC")
    limits = {fmt: statistics.median(_time(lambda f=fmt: bare_minimum(source, f), args.iterations)) for fmt in formats}
    for key in keys:
        spec = specs[key]
        for fmt in formats:
            if fmt not in spec.formats:
                continue
            result: dict[str, object] = {}

            def run(spec=spec, fmt=fmt, result=result) -> None:
                result["bytes"] = len(compose(spec, spec.example, [source], brand, format=fmt).jpeg)

            samples = _time(run, args.iterations)
            p50 = statistics.median(samples)
            line = {
                "bench": f"compose.{key}.{fmt}",
                "source": "12MP",
                "p50_ms": round(p50, 1),
                "p95_ms": round(_percentile(samples, 0.95), 1),
                "limit_ms": round(limits[fmt], 1),
                "ratio": round(p50 / limits[fmt], 2),
                "bytes": result["bytes"],
            }
            print(json.dumps(line), flush=True)
    return 0
