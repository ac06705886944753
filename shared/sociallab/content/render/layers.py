"""One function per layer type; each turns a layer into the paint ops that draw it (`paint.Op`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageOps

from sociallab.content.fonts import load_font
from sociallab.content.render import logos
from sociallab.content.render import text as textlib
from sociallab.content.render.brand import RGBA, Brand
from sociallab.content.render.paint import (
    Op,
    Paste,
    Stops,
    chain,
    gradient_ops,
    masked,
    rect_ops,
    rounded_mask,
    scale_alpha,
)
from sociallab.content.render.photo import PhotoSource, cover, open_photo
from sociallab.content.templates.formatting import as_text, is_present, lookup, render_text
from sociallab.content.templates.spec import (
    BadgeLayer,
    Gradient,
    LogoLayer,
    PhotoLayer,
    ShapeLayer,
    StatsLayer,
    TextLayer,
)
from sociallab.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError
from sociallab.logging import get_logger

Box = tuple[int, int, int, int]
log = get_logger(__name__)


@dataclass
class Scene:
    """What every layer may read while drawing."""

    size: tuple[int, int]  # of the canvas
    brand: Brand
    data: Mapping[str, Any]
    photos: Sequence[PhotoSource]

    def box(self, layer: Any) -> Box:
        return layer.box.pixels(*self.size)

    def stops(self, gradient: Gradient) -> Stops:
        out = []
        for stop in gradient.stops:
            r, g, b, a = self.brand.color(stop.color)
            out.append((stop.at, (r, g, b, round(a * stop.opacity))))
        return tuple(out)


def visible(layer: Any, data: Mapping[str, Any]) -> bool:
    """False when the layer's `when` path has no value."""
    return layer.when is None or is_present(data, layer.when)


@lru_cache(maxsize=32)
def _photo_table(darken: float, tint: tuple[int, ...] | None) -> tuple[int, ...]:
    """The per-channel lookup table of a photo's darkening followed by `tint`."""
    keep = 1.0 - darken
    table = tuple(round(v * keep) for v in range(256)) * 3
    return chain(table, tint) if tint is not None else table


@lru_cache(maxsize=32)
def _grey_palette(table: tuple[int, ...]) -> list[int]:
    """The RGB palette whose entry v is what the per-channel `table` makes of grey v."""
    return [table[channel * 256 + v] for v in range(256) for channel in range(3)]


def photo_ops(scene: Scene, layer: PhotoLayer, *, tint: Sequence[int] | None = None) -> list[Op]:
    """The photo of `layer` (its fallback fill without one). `tint`: a per-channel lookup table
    (768 values) applied to the photo's pixels after its own adjustments, as a constant-colour
    fill over exactly the photo's box would be (the composer folds such fills into the photo)."""
    box = scene.box(layer)
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if layer.index >= len(scene.photos):
        if isinstance(layer.fallback, Gradient):
            return gradient_ops(
                box, layer.fallback.angle, scene.stops(layer.fallback), radius=layer.radius, opacity=layer.opacity
            )
        return rect_ops(box, scene.brand.color(layer.fallback), radius=layer.radius, opacity=layer.opacity)
    image = open_photo(scene.photos[layer.index], width, height, index=layer.index, grey=layer.grayscale)
    image = cover(image, width, height, (layer.focal.x, layer.focal.y), grey=layer.grayscale)
    table = _photo_table(layer.darken, tuple(tint) if tint is not None else None)
    if layer.grayscale:
        # Grey pixels have equal channels, so grey v becomes (table[v], table[256 + v], table[512 + v]):
        # a palette, and one conversion makes the RGB image (one pass, not three lookups and a merge).
        image.putpalette(_grey_palette(table))
        image = image.convert("RGB")
    elif layer.darken or tint is not None:
        image = image.point(table)
    mask = rounded_mask(width, height, layer.radius) if layer.radius else None
    if layer.opacity < 1.0:
        mask = scale_alpha(mask or Image.new("L", (width, height), 255), layer.opacity)
    return [Paste(image, box, mask)]


def shape_ops(scene: Scene, layer: ShapeLayer) -> list[Op]:
    box = scene.box(layer)
    if layer.gradient is not None:
        return gradient_ops(
            box, layer.gradient.angle, scene.stops(layer.gradient), radius=layer.radius, opacity=layer.opacity
        )
    if layer.fill is not None:
        return rect_ops(box, scene.brand.color(layer.fill), radius=layer.radius, opacity=layer.opacity)
    return []


def _logo_image(logo: bytes | Image.Image, width: int, height: int) -> Image.Image | None:
    if not isinstance(logo, bytes | bytearray):
        return ImageOps.contain(logo.convert("RGBA"), (width, height), Image.Resampling.LANCZOS)
    try:
        return logos.fitted_logo(bytes(logo), width, height)
    except (UnprocessableError, UnsupportedMediaTypeError, PayloadTooLargeError) as exc:
        # A broken or oversized logo must not block the post: the layer falls back (monogram).
        log.warning("logo not drawn", extra={"reason": exc.message})
        return None


def _place(inner: tuple[int, int], box: Box, align: str, valign: str) -> tuple[int, int]:
    left, top, right, bottom = box
    w, h = inner
    x = left if align == "left" else right - w if align == "right" else left + (right - left - w) // 2
    y = top if valign == "top" else bottom - h if valign == "bottom" else top + (bottom - top - h) // 2
    return x, y


def logo_ops(scene: Scene, layer: LogoLayer) -> list[Op]:
    box = scene.box(layer)
    width, height = box[2] - box[0], box[3] - box[1]
    logo = _logo_image(scene.brand.logo, width, height) if scene.brand.logo is not None else None
    if logo is not None:
        x, y = _place(logo.size, box, layer.align, layer.valign)
        placed = (x, y, x + logo.width, y + logo.height)
        return masked(logo.convert("RGB"), placed, scale_alpha(logo.getchannel("A"), layer.opacity))
    if layer.fallback != "monogram":
        return []
    words = [w for w in scene.brand.name.split() if w[:1].isalnum()]
    initials = "".join(w[0] for w in words[:2]).upper() or "•"
    side = min(width, height)
    x, y = _place((side, side), box, layer.align, layer.valign)
    circle = (x, y, x + side, y + side)
    ops = rect_ops(circle, scene.brand.color("primary"), radius=side // 2, opacity=layer.opacity)
    fitted = textlib.fit(
        initials,
        family=scene.brand.font,
        weight="black",
        width=int(side * 0.7),
        height=int(side * 0.5),
        max_size=max(8, side // 2),
        min_size=8,
        max_lines=1,
        line_height=1.0,
    )
    return ops + textlib.text_ops(
        scene.size,
        fitted,
        circle,
        align="center",
        valign="middle",
        ink=textlib.Ink(scene.brand.color("text_on_primary"), opacity=layer.opacity),
    )


def _ink(scene: Scene, layer: TextLayer) -> textlib.Ink:
    shadow = None
    if layer.shadow is not None:
        s = layer.shadow
        shadow = (s.dx, s.dy, s.blur, scene.brand.color(s.color), s.opacity)
    outline = (layer.outline.width, scene.brand.color(layer.outline.color)) if layer.outline else None
    return textlib.Ink(scene.brand.color(layer.color), shadow=shadow, outline=outline, opacity=layer.opacity)


def text_ops(scene: Scene, layer: TextLayer) -> list[Op]:
    content = textlib.prepare(render_text(layer.text, layer.fallback, scene.data), uppercase=layer.uppercase)
    if not content:
        return []
    box = scene.box(layer)
    fitted = textlib.fit(
        content,
        family=scene.brand.font,
        weight=layer.weight,
        width=box[2] - box[0],
        height=box[3] - box[1],
        max_size=layer.max_size,
        min_size=layer.min_size,
        max_lines=layer.max_lines,
        line_height=layer.line_height,
    )
    return textlib.text_ops(scene.size, fitted, box, align=layer.align, valign=layer.valign, ink=_ink(scene, layer))


def badge_ops(scene: Scene, layer: BadgeLayer) -> list[Op]:
    content = textlib.prepare(render_text(layer.text, layer.fallback, scene.data), uppercase=layer.uppercase)
    if not content:
        return []
    left, top, right, bottom = scene.box(layer)
    height = bottom - top
    font = load_font(scene.brand.font, layer.weight, layer.size or max(8, round(height * 0.45)))
    room = max(1, right - left - 2 * layer.padding)
    content = textlib.ellipsize(content.replace("\n", " "), font, room)
    width = min(right - left, round(textlib.measure(font, content)) + 2 * layer.padding)
    x, _ = _place((width, height), (left, top, right, bottom), layer.align, "top")
    pill = (x, top, x + width, bottom)
    radius = height // 2 if layer.radius is None else layer.radius
    ops = rect_ops(pill, scene.brand.color(layer.fill), radius=radius, opacity=layer.opacity)
    fitted = textlib.Fitted(font, round(font.size), [content], height)
    return ops + textlib.text_ops(
        scene.size,
        fitted,
        pill,
        align="center",
        valign="middle",
        ink=textlib.Ink(scene.brand.color(layer.color), opacity=layer.opacity),
    )


def stats_ops(scene: Scene, layer: StatsLayer) -> list[Op]:
    rows = lookup(scene.data, layer.source)
    if not isinstance(rows, list | tuple):
        return []
    rows = [row for row in rows if isinstance(row, Mapping)][: layer.max_rows]
    if not rows:
        return []
    left, top, right, bottom = scene.box(layer)
    count = len(rows) + (1 if layer.header else 0)
    row_h = (bottom - top) // count
    size = max(layer.min_size, min(layer.max_size, round(row_h * 0.46)))
    body_font = load_font(scene.brand.font, layer.weight, size)
    head_font = load_font(scene.brand.font, layer.header_weight, max(layer.min_size, round(size * 0.72)))
    total = sum(column.width for column in layer.columns)
    edges, x = [], float(left)
    for column in layer.columns:
        step = (right - left) * column.width / total
        edges.append((round(x), round(x + step)))
        x += step
    cells: list[tuple[list[str], Any, RGBA]] = []
    if layer.header:
        cells.append(
            (
                [textlib.prepare(c.label, uppercase=True) for c in layer.columns],
                head_font,
                scene.brand.color(layer.header_color),
            )
        )
    for row in rows:
        values = [textlib.prepare(as_text(lookup(row, c.key)) or c.fallback) for c in layer.columns]
        cells.append((values, body_font, scene.brand.color(layer.color)))
    ops: list[Op] = []
    for r, (values, font, color) in enumerate(cells):
        y0 = top + r * row_h
        body_index = r - (1 if layer.header else 0)
        fill = layer.zebra_fill if body_index >= 0 and body_index % 2 == 1 and layer.zebra_fill else layer.row_fill
        if fill and body_index >= 0:
            ops += rect_ops(
                (left, y0 + 2, right, y0 + row_h - 2),
                scene.brand.color(fill),
                radius=layer.radius,
                opacity=layer.opacity,
            )
        for (x0, x1), column, value in zip(edges, layer.columns, values, strict=True):
            inner = (x0 + layer.padding, y0, x1 - layer.padding, y0 + row_h)
            value = textlib.ellipsize(value, font, max(1, inner[2] - inner[0]))
            if not value:
                continue
            ops += textlib.text_ops(
                scene.size,
                textlib.Fitted(font, round(font.size), [value], row_h),
                inner,
                align=column.align,
                valign="middle",
                ink=textlib.Ink(color, opacity=layer.opacity),
            )
    return ops


OPS: dict[str, Callable[[Scene, Any], list[Op]]] = {
    "photo": photo_ops,
    "shape": shape_ops,
    "logo": logo_ops,
    "text": text_ops,
    "badge": badge_ops,
    "stats": stats_ops,
}
