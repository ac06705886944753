"""`python -m bench compose`: render every built-in template in every format from a 12 MP JPEG.

Prints one JSON line per template and format::

    {"bench": "compose.match_result.feed_4x5", "source": "12MP", "p50_ms": ..., "p95_ms": ...,
     "limit_ms": ..., "p50_ratio": ..., "cpu_p50_ms": ..., "cpu_limit_ms": ..., "cpu_ratio": ..., "bytes": ...}

`limit_ms` is the floor: the bare minimum any composer must do for that format (decode the same
source at draft scale + encode a canvas-size JPEG). The machine is shared and noisy, so the floor
and the template are timed alternately (one iteration of each, in turn) and both wall time
(`p50_ratio`, the headline) and this thread's CPU time (`cpu_ratio`, immune to other processes
taking the core) are reported. Targets: p50 <= 80 ms for feed_4x5 and p50 / floor <= 1.5
(issue 7). Options: `--iterations N` (default 21), `--templates a,b`, `--formats x,y`.

`cover_cpu_ms` / `cover_ratio`: the same against a second floor, what any post with a full-bleed photo
must do at least (decode, scale the photo to cover the canvas as the composer does, encode): the
share of a template's cost that is its own layers (text, scrims, logo, darkening), not the photo.
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
from sociallab.content.render.photo import cover, open_photo
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


def _interleaved(
    fns: tuple[Callable[[], object], ...], iterations: int, warmup: int = 2
) -> list[tuple[list[float], list[float]]]:
    """(wall ms, CPU ms) samples of each of `fns`, run one after the other `iterations` times."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in fns]
    for _ in range(iterations):
        for fn, (wall, cpu) in zip(fns, samples, strict=True):
            cpu_start, start = time.thread_time(), time.perf_counter()
            fn()
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - cpu_start) * 1000)
    return samples


def bare_minimum(source: bytes, fmt: str) -> None:
    """Decode `source` at the draft scale that covers the canvas, then encode a canvas-size JPEG."""
    width, height = CANVAS_SIZES[fmt]
    image = Image.open(io.BytesIO(source))
    scale = max(width / image.width, height / image.height)
    image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    encode_jpeg(image.crop((0, 0, width, height)))


def photo_minimum(source: bytes, fmt: str) -> None:
    """Decode `source`, scale it to cover the canvas (centred) the way the composer does, encode it."""
    width, height = CANVAS_SIZES[fmt]
    encode_jpeg(cover(open_photo(source, width, height), width, height, (0.5, 0.5)))


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
    for key in keys:
        spec = specs[key]
        for fmt in formats:
            if fmt not in spec.formats:
                continue
            result: dict[str, object] = {}

            def run(spec=spec, fmt=fmt, result=result) -> None:
                result["bytes"] = len(compose(spec, spec.example, [source], brand, format=fmt).jpeg)

            def floor(fmt=fmt) -> None:
                bare_minimum(source, fmt)

            def photo_floor(fmt=fmt) -> None:
                photo_minimum(source, fmt)

            timed = _interleaved((floor, photo_floor, run), args.iterations)
            (floor_wall, floor_cpu), (_, cover_cpu), (wall, cpu) = timed
            p50, limit = statistics.median(wall), statistics.median(floor_wall)
            cpu_p50, cpu_limit = statistics.median(cpu), statistics.median(floor_cpu)
            line = {
                "bench": f"compose.{key}.{fmt}",
                "source": "12MP",
                "p50_ms": round(p50, 1),
                "p95_ms": round(_percentile(wall, 0.95), 1),
                "limit_ms": round(limit, 1),
                "p50_ratio": round(p50 / limit, 2),
                "cpu_p50_ms": round(cpu_p50, 1),
                "cpu_limit_ms": round(cpu_limit, 1),
                "cpu_ratio": round(cpu_p50 / cpu_limit, 2),
                "cover_cpu_ms": round(statistics.median(cover_cpu), 1),
                "cover_ratio": round(cpu_p50 / statistics.median(cover_cpu), 2),
                "bytes": result["bytes"],
            }
            print(json.dumps(line), flush=True)
    return 0
