"""A template prepared for a format and a brand: every layer that does not depend on the post
(shapes, the logo, text without placeholders) turned into paint ops once, ready to paste (`kept`), so
a post only costs its photo and its text.

    plan = plan_for(spec, "feed_4x5", brand)     # cached per template, format and brand
    canvas = render(plan, brand, data, photos)   # a new canvas; the plan is never changed

Plans live in a small LRU cache bounded by count and bytes, shared by the threads composing at once.
Its key holds digests of the spec and of the logo's content, so an edited template, a new brand
colour or a new logo gets a new plan. Cached images are only read: `render` paints onto a copy.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from sociallab.content.render.brand import Brand
from sociallab.content.render.layers import OPS, Scene, photo_ops, visible
from sociallab.content.render.paint import Blend, Op, Paste, chain, kept, op_bytes, paint
from sociallab.content.render.photo import PhotoSource
from sociallab.content.templates.formatting import placeholder_paths
from sociallab.content.templates.spec import TemplateSpec

_MAX_PLANS = 16
_MAX_BYTES = 64 * 1024 * 1024
_cache: OrderedDict[tuple[bytes, str, tuple[Any, ...]], Plan] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Tint:
    """Constant-colour fills right above a photo, over exactly its box, as one lookup table applied
    to the photo's pixels (the same result as painting them, at a fraction of the cost)."""

    table: tuple[int, ...]
    layers: int  # how many of the following steps it stands for


@dataclass(frozen=True)
class Step:
    layer: Any
    ops: tuple[Op, ...] | None  # prepared; None: drawn per post
    tint: Tint | None = None  # photo steps only


@dataclass(frozen=True)
class Plan:
    size: tuple[int, int]
    base: Image.Image  # the canvas after the leading layers that are always drawn the same
    steps: tuple[Step, ...]
    nbytes: int


def plan_for(spec: TemplateSpec, fmt: str, brand: Brand) -> Plan:
    """The plan of `spec` in `fmt` for `brand`, from the cache or made now.

    Raises:
        ValueError: the template has no such format.
        UnprocessableError, PayloadTooLargeError, DependencyUnavailableError: see `logos.decode_logo`
            (a logo that is merely broken is left out, not raised).
    """
    key = (hashlib.sha256(spec.model_dump_json().encode()).digest(), fmt, _brand_key(brand))
    with _cache_lock:
        plan = _cache.get(key)
        if plan is not None:
            _cache.move_to_end(key)
            return plan
    plan = _prepare(spec.for_format(fmt), fmt, brand)
    with _cache_lock:
        _cache[key] = plan
        _cache.move_to_end(key)
        while len(_cache) > _MAX_PLANS or (len(_cache) > 1 and sum(p.nbytes for p in _cache.values()) > _MAX_BYTES):
            _cache.popitem(last=False)
    return plan


def render(plan: Plan, brand: Brand, data: Mapping[str, Any], photos: Sequence[PhotoSource]) -> Image.Image:
    """A new RGB canvas with `plan` drawn for this post's `data` and `photos`.

    Raises:
        UnprocessableError: a photo cannot be decoded.
    """
    scene = Scene(size=plan.size, brand=brand, data=data, photos=photos)
    canvas: Image.Image | None = None
    skip = 0
    for step in plan.steps:
        if skip:
            skip -= 1
            continue
        if not visible(step.layer, data):
            continue
        if step.ops is not None:
            ops = list(step.ops)
        elif step.tint is not None and step.layer.index < len(photos):
            ops = photo_ops(scene, step.layer, tint=step.tint.table)
            skip = step.tint.layers
        else:
            ops = OPS[step.layer.type](scene, step.layer)
        if canvas is None:
            fresh = step.layer.type == "photo" and step.layer.index < len(photos)
            canvas, ops = _surface(plan, ops) if fresh else (plan.base.copy(), ops)
        paint(canvas, ops)
    return canvas if canvas is not None else plan.base.copy()


def _surface(plan: Plan, photo: list[Op]) -> tuple[Image.Image, list[Op]]:
    """The canvas to paint on and the ops left: a photo (a new image, this render's own) pasted
    first over the whole canvas hides the base, so it becomes the canvas instead of a copy of it."""
    first = photo[0] if photo else None
    if (
        isinstance(first, Paste)
        and isinstance(first.source, Image.Image)
        and first.source.mode == "RGB"
        and first.mask is None
        and first.box == (0, 0, *plan.size)
    ):
        return first.source, photo[1:]
    return plan.base.copy(), photo


def _brand_key(brand: Brand) -> tuple[Any, ...]:
    logo = brand.logo
    if isinstance(logo, bytes | bytearray):
        logo_key: Any = hashlib.sha256(logo).digest()
    elif logo is not None:
        logo_key = (logo.mode, logo.size, hashlib.sha256(logo.tobytes()).digest())
    else:
        logo_key = None
    return brand.primary, brand.secondary, brand.accent, brand.font, brand.name, logo_key


def _fixed(layer: Any) -> bool:
    """Whether `layer` looks the same in every post of a template, format and brand."""
    if layer.type in ("shape", "logo"):
        return True
    if layer.type in ("text", "badge"):
        return not placeholder_paths(layer.text) and not placeholder_paths(layer.fallback)
    return False


def _prepare(spec: TemplateSpec, fmt: str, brand: Brand) -> Plan:
    size = spec.canvas_size(fmt)
    scene = Scene(size=size, brand=brand, data={}, photos=[])
    steps = [
        Step(layer, tuple(kept(op) for op in OPS[layer.type](scene, layer)) if _fixed(layer) else None)
        for layer in spec.layers
    ]
    base = Image.new("RGB", size, brand.color("primary")[:3])
    while steps and steps[0].ops is not None and steps[0].layer.when is None:
        paint(base, steps.pop(0).ops or ())
    steps = [_with_tint(steps, i, scene) for i in range(len(steps))]
    nbytes = base.width * base.height * 4 + sum(op_bytes(op) for step in steps for op in step.ops or ())
    return Plan(size=size, base=base, steps=tuple(steps), nbytes=nbytes)


def _with_tint(steps: list[Step], index: int, scene: Scene) -> Step:
    """`steps[index]`, given the fills above it to fold when it is a photo that covers its box."""
    step = steps[index]
    layer = step.layer
    if layer.type != "photo" or layer.radius or layer.opacity < 1.0:
        return step
    box = scene.box(layer)
    table: tuple[int, ...] | None = None
    count = 0
    for above in steps[index + 1 :]:
        ops = above.ops or ()
        if above.layer.when is not None or len(ops) != 1 or not isinstance(ops[0], Blend) or ops[0].box != box:
            break
        lut = ops[0].table
        table = lut if table is None else chain(table, lut)
        count += 1
    return Step(layer, None, Tint(table, count)) if table is not None else step
