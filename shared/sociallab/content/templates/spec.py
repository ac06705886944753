"""The template spec: a post layout as validated JSON data.

A spec describes one template for every format it supports. Geometry is relative (boxes are
fractions 0..1 of the canvas), so one layout serves 4:5, square and 9:16; a layer may patch any of
its own fields per format (`overrides`) or appear only in some formats (`formats`). Font sizes,
paddings and radii are pixels on a 1080 px wide canvas (every format is 1080 wide).

Layers are drawn in order, bottom first::

    photo   a photo (cover-crop around a focal point, optional darken), or a brand fill without one
    shape   a solid or linear-gradient rectangle with optional rounded corners (scrims, bars, panels)
    logo    the brand kit's logo fitted in its box (or a monogram, or nothing)
    text    `{placeholder}` text auto-fitted between min and max size, wrapped, ellipsised
    badge   a pill with short text
    stats   a table from a list in the data (columns, header, max rows)

Colours are brand kit names (`primary`, `secondary`, `accent`, `text_on_primary`, ...), `white`,
`black`, or hex (`#RRGGBB`, `#RRGGBBAA`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

Format = Literal["feed_4x5", "square", "story_9x16"]
FORMATS: tuple[Format, ...] = get_args(Format)
CANVAS_SIZES: dict[str, tuple[int, int]] = {
    "feed_4x5": (1080, 1350),
    "square": (1080, 1080),
    "story_9x16": (1080, 1920),
}
Weight = Literal["regular", "semibold", "bold", "black"]
Align = Literal["left", "center", "right"]
VAlign = Literal["top", "middle", "bottom"]

BRAND_COLORS = frozenset(
    {
        "primary",
        "secondary",
        "accent",
        "text_on_primary",
        "text_on_secondary",
        "text_on_accent",
        "white",
        "black",
    }
)
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"
_KEY = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
_CONTENT_TYPE = r"^[a-z][a-z0-9_]{0,63}$"
_DATA_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"


def _check_color(value: str) -> str:
    if value in BRAND_COLORS or _HEX.match(value):
        return value
    raise ValueError(f"not a colour: use a brand colour ({', '.join(sorted(BRAND_COLORS))}) or #RRGGBB[AA]")


ColorRef = Annotated[str, AfterValidator(_check_color)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    # Validators are built when a spec is first validated, not at import: functions that only name
    # templates (insights, posts) never pay for them (cold start, issue 7.4).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Box(_Model):
    """A rectangle in fractions of the canvas; JSON may also give it as `[x, y, w, h]`."""

    x: Fraction = 0.0
    y: Fraction = 0.0
    w: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    h: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 4:
                raise ValueError("a box is [x, y, w, h]")
            return dict(zip("xywh", value, strict=True))
        return value

    @model_validator(mode="after")
    def _inside(self) -> Box:
        if self.x + self.w > 1.0001 or self.y + self.h > 1.0001:
            raise ValueError("the box goes past the canvas (x + w and y + h must be <= 1)")
        return self

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a `width` x `height` canvas."""
        left, top = round(self.x * width), round(self.y * height)
        right, bottom = round((self.x + self.w) * width), round((self.y + self.h) * height)
        return left, top, max(right, left + 1), max(bottom, top + 1)


class Focal(_Model):
    """The point of a photo that must stay in frame when cropping (fractions of the photo)."""

    x: Fraction = 0.5
    y: Fraction = 0.5


class GradientStop(_Model):
    at: Fraction
    color: ColorRef
    opacity: Fraction = 1.0


class Gradient(_Model):
    """A linear gradient; `angle` in degrees: 0 runs left to right, 90 top to bottom."""

    angle: Annotated[float, Field(ge=-360, le=360)] = 90.0
    stops: Annotated[list[GradientStop], Field(min_length=2, max_length=8)]

    @model_validator(mode="after")
    def _ordered(self) -> Gradient:
        positions = [stop.at for stop in self.stops]
        if positions != sorted(positions):
            raise ValueError("gradient stops must be in increasing `at` order")
        return self


class Shadow(_Model):
    dx: Annotated[int, Field(ge=-40, le=40)] = 0
    dy: Annotated[int, Field(ge=-40, le=40)] = 3
    blur: Annotated[int, Field(ge=0, le=30)] = 6
    color: ColorRef = "black"
    opacity: Fraction = 0.55


class Outline(_Model):
    width: Annotated[int, Field(ge=1, le=12)] = 2
    color: ColorRef = "black"


class _LayerBase(_Model):
    id: Annotated[str, Field(pattern=_ID)]
    box: Box = Box()
    opacity: Fraction = 1.0
    # Drawn only in these formats (None: all).
    formats: list[Format] | None = None
    # Drawn only when this data path holds a value (not missing, None, "" or []).
    when: Annotated[str, Field(pattern=_DATA_PATH)] | None = None
    # Per-format patches of this layer's own fields, e.g. {"story_9x16": {"box": [0, 0.6, 1, 0.3]}}.
    overrides: dict[Format, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _check_overrides(self) -> Any:
        """Each patch must name fields of this layer and give a layer that is still valid."""
        allowed = set(type(self).model_fields) - {"id", "type", "overrides"}
        for fmt, patch in self.overrides.items():
            unknown = set(patch) - allowed
            if unknown:
                raise ValueError(f"overrides.{fmt}: unknown field(s) {', '.join(sorted(unknown))}")
            try:
                type(self).model_validate({**self.model_dump(exclude={"overrides"}, exclude_unset=True), **patch})
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"overrides.{fmt}.{where}: {first['msg']}") from None
        return self


class _Photo(_LayerBase):
    type: Literal["photo"] = "photo"
    index: Annotated[int, Field(ge=0, le=9)] = 0
    focal: Focal = Focal()
    darken: Annotated[float, Field(ge=0.0, le=0.95)] = 0.0
    grayscale: bool = False
    radius: Annotated[int, Field(ge=0, le=540)] = 0
    # Painted when there is no photo for `index`: a colour or a gradient (the post is never blocked).
    fallback: ColorRef | Gradient = "primary"
    # Selection hint: the layout needs this photo to look as designed.
    required: bool = True


class _Shape(_LayerBase):
    type: Literal["shape"] = "shape"
    fill: ColorRef | None = None
    gradient: Gradient | None = None
    radius: Annotated[int, Field(ge=0, le=540)] = 0

    @model_validator(mode="after")
    def _one_fill(self) -> _Shape:
        if (self.fill is None) == (self.gradient is None):
            raise ValueError("a shape has exactly one of `fill` and `gradient`")
        return self


class _Logo(_LayerBase):
    type: Literal["logo"] = "logo"
    align: Align = "left"
    valign: VAlign = "middle"
    # Without a logo in the brand kit: nothing, or a circle with the brand's initials.
    fallback: Literal["none", "monogram"] = "none"


class _Text(_LayerBase):
    type: Literal["text"] = "text"
    text: Annotated[str, Field(max_length=2000)]
    # Used when `text` refers to missing data; may itself hold placeholders ("" hides the layer).
    fallback: Annotated[str, Field(max_length=2000)] = ""
    weight: Weight = "bold"
    max_size: Annotated[int, Field(ge=8, le=480)] = 64
    min_size: Annotated[int, Field(ge=8, le=480)] = 24
    max_lines: Annotated[int, Field(ge=1, le=20)] = 2
    line_height: Annotated[float, Field(ge=0.7, le=2.5)] = 1.12
    align: Align = "left"
    valign: VAlign = "top"
    color: ColorRef = "white"
    uppercase: bool = False
    shadow: Shadow | None = None
    outline: Outline | None = None

    @model_validator(mode="after")
    def _sizes(self) -> _Text:
        if self.min_size > self.max_size:
            raise ValueError("min_size must be <= max_size")
        return self


class _Badge(_LayerBase):
    type: Literal["badge"] = "badge"
    text: Annotated[str, Field(max_length=200)]
    fallback: Annotated[str, Field(max_length=200)] = ""
    weight: Weight = "bold"
    # Font size in px; None: 45 % of the badge height.
    size: Annotated[int, Field(ge=8, le=200)] | None = None
    fill: ColorRef = "accent"
    color: ColorRef = "text_on_accent"
    align: Align = "left"
    padding: Annotated[int, Field(ge=0, le=200)] = 28
    # Corner radius in px; None: a pill (half the height).
    radius: Annotated[int, Field(ge=0, le=540)] | None = None
    uppercase: bool = True


class StatsColumn(_Model):
    key: Annotated[str, Field(pattern=_DATA_PATH)]
    label: Annotated[str, Field(max_length=60)] = ""
    # Share of the table's width; the shares of all columns are normalised to 1.
    width: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    align: Align = "left"
    fallback: Annotated[str, Field(max_length=60)] = ""


class _Stats(_LayerBase):
    type: Literal["stats"] = "stats"
    # Data path of a list of objects (e.g. `player_stats`); an empty or missing list hides the layer.
    source: Annotated[str, Field(pattern=_DATA_PATH)]
    columns: Annotated[list[StatsColumn], Field(min_length=1, max_length=8)]
    header: bool = True
    max_rows: Annotated[int, Field(ge=1, le=20)] = 5
    weight: Weight = "semibold"
    header_weight: Weight = "bold"
    max_size: Annotated[int, Field(ge=8, le=200)] = 40
    min_size: Annotated[int, Field(ge=8, le=200)] = 18
    color: ColorRef = "white"
    header_color: ColorRef = "accent"
    row_fill: ColorRef | None = None
    zebra_fill: ColorRef | None = None
    radius: Annotated[int, Field(ge=0, le=100)] = 0
    padding: Annotated[int, Field(ge=0, le=100)] = 16

    @model_validator(mode="after")
    def _sizes(self) -> _Stats:
        if self.min_size > self.max_size:
            raise ValueError("min_size must be <= max_size")
        return self


class PhotoLayer(_Photo):
    """A photo (see `_Photo`)."""


class ShapeLayer(_Shape):
    """A solid or gradient rectangle (see `_Shape`)."""


class LogoLayer(_Logo):
    """The brand logo (see `_Logo`)."""


class TextLayer(_Text):
    """Text bound to the data (see `_Text`)."""


class BadgeLayer(_Badge):
    """A pill with short text (see `_Badge`)."""


class StatsLayer(_Stats):
    """A table from a list in the data (see `_Stats`)."""


Layer = Annotated[
    PhotoLayer | ShapeLayer | LogoLayer | TextLayer | BadgeLayer | StatsLayer,
    Field(discriminator="type"),
]
_LAYER_ADAPTER: TypeAdapter[Any] = TypeAdapter(Layer, config=ConfigDict(defer_build=True))


class TemplateSpec(_Model):
    """One template: metadata, its fallback caption and its layers (see the module docstring)."""

    schema_version: Literal[1] = 1
    key: Annotated[str, Field(pattern=_KEY)]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=1000)] = ""
    content_type: Annotated[str, Field(pattern=_CONTENT_TYPE)]
    formats: Annotated[list[Format], Field(min_length=1, max_length=3)] = list(FORMATS)
    # The caption used when Gemini is off, failing or over budget; `{placeholders}` like text layers.
    caption_template: Annotated[str, Field(max_length=2200)] = ""
    # Documentation of the data keys the layout reads: {key: description}.
    fields: dict[str, str] = {}
    # Sample data for previews, demos and benchmarks.
    example: dict[str, Any] = {}
    layers: Annotated[list[Layer], Field(min_length=1, max_length=40)]

    @model_validator(mode="after")
    def _consistent(self) -> TemplateSpec:
        if len(set(self.formats)) != len(self.formats):
            raise ValueError("formats must not repeat")
        seen: set[str] = set()
        for layer in self.layers:
            if layer.id in seen:
                raise ValueError(f"layer id {layer.id!r} is used twice")
            seen.add(layer.id)
        return self

    def canvas_size(self, fmt: str) -> tuple[int, int]:
        """(width, height) of `fmt`.

        Raises:
            ValueError: the template does not support `fmt`.
        """
        if fmt not in self.formats:
            raise ValueError(f"template {self.key!r} has no {fmt!r} format (it has {', '.join(self.formats)})")
        return CANVAS_SIZES[fmt]

    def for_format(self, fmt: str) -> TemplateSpec:
        """This spec reduced to `fmt`: per-format layers kept, overrides applied, `formats == [fmt]`.

        Raises:
            ValueError: the template does not support `fmt`.
        """
        self.canvas_size(fmt)
        layers = []
        for layer in self.layers:
            if layer.formats is not None and fmt not in layer.formats:
                continue
            data = layer.model_dump(exclude={"overrides", "formats"}, exclude_unset=True)
            data.update(layer.overrides.get(cast(Format, fmt)) or {})
            layers.append(_LAYER_ADAPTER.validate_python(data))
        return self.model_copy(update={"formats": [fmt], "layers": layers})

    @property
    def photo_slots(self) -> int:
        """How many distinct photos the layout shows (0 for a text-only layout)."""
        return len({layer.index for layer in self.layers if layer.type == "photo"})

    @property
    def required_photos(self) -> int:
        """How many photos the layout needs to look as designed (selection hint; compose never fails)."""
        return len({layer.index for layer in self.layers if layer.type == "photo" and layer.required})

    def placeholders(self) -> set[str]:
        """Every data path the layout and caption read (from `{placeholders}`, `when`, `source`)."""
        from sociallab.content.templates.formatting import placeholder_paths

        paths: set[str] = set(placeholder_paths(self.caption_template))
        for layer in self.layers:
            if layer.when:
                paths.add(layer.when)
            for attr in ("text", "fallback"):
                value = getattr(layer, attr, None)
                if isinstance(value, str) and layer.type in ("text", "badge"):
                    paths |= placeholder_paths(value)
            if layer.type == "stats":
                paths.add(layer.source)
        return paths
