"""Template specs: the built-ins, validation errors that name the layer and field, the formatter."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sociallab.content.templates import (
    CANVAS_SIZES,
    FORMATS,
    builtin_record,
    builtin_specs,
    fill,
    render_caption,
    render_text,
    validate_spec,
)
from sociallab.errors import NotFoundError, RequestValidationError

pytestmark = pytest.mark.unit

REQUIRED = {"match_result", "matchday", "player_spotlight", "announcement", "quote"}


def minimal(**layer: Any) -> dict[str, Any]:
    return {
        "key": "club.custom",
        "name": "Custom",
        "content_type": "announcement",
        "layers": [
            {"id": "bg", "type": "shape", "fill": "primary"},
            {"id": "title", "type": "text", "text": "{t}", **layer},
        ],
    }


def errors_of(data: Any) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        validate_spec(data)
    return info.value


# --- built-ins ----------------------------------------------------------------------------------


def test_every_required_builtin_ships_in_every_format() -> None:
    specs = builtin_specs()
    assert set(specs) >= REQUIRED
    for key in REQUIRED:
        spec = specs[key]
        assert spec.content_type == key
        assert set(spec.formats) == set(FORMATS)
        assert spec.caption_template
        for fmt in FORMATS:
            reduced = spec.for_format(fmt)
            assert reduced.formats == [fmt]
            assert reduced.canvas_size(fmt) == CANVAS_SIZES[fmt]


def test_builtins_document_every_field_they_read_and_carry_example_data() -> None:
    for spec in builtin_specs().values():
        assert spec.placeholders() <= set(spec.fields), spec.key
        assert spec.example, spec.key


def test_per_format_overrides_change_geometry() -> None:
    spec = builtin_specs()["match_result"]
    feed = {layer.id: layer for layer in spec.for_format("feed_4x5").layers}
    story = {layer.id: layer for layer in spec.for_format("story_9x16").layers}
    assert feed["score"].box != story["score"].box
    assert "footer-accent" in feed and "footer-accent" not in story  # `formats` keeps it out of stories


def test_builtin_record_and_unknown_builtin() -> None:
    record = builtin_record("quote", "square")
    assert record.is_builtin and record.format == "square" and record.spec.formats == ["square"]
    assert record.caption({"quote": "Go", "author": "Ann"}).startswith('"Go"\n— Ann')
    with pytest.raises(NotFoundError):
        builtin_record("nope", "square")


def test_photo_slots_drive_selection_hints() -> None:
    specs = builtin_specs()
    assert specs["match_result"].required_photos == 1
    assert specs["quote"].photo_slots == 1 and specs["quote"].required_photos == 0


# --- validation errors ----------------------------------------------------------------------------


def test_out_of_range_field_names_layer_index_id_and_field() -> None:
    error = errors_of(minimal(max_size=1000))
    assert error.status == 422 and error.code == "validation_failed"
    [detail] = error.details
    assert detail["field"] == "spec.layers[1].max_size"
    assert detail["layer_index"] == 1 and detail["layer_id"] == "title"
    assert "title" in detail["message"] and "title" in error.message


def test_bad_colour_and_unknown_field_and_type() -> None:
    details = errors_of(minimal(color="purple")).details
    assert details[0]["field"] == "spec.layers[1].color" and "colour" in details[0]["message"]
    details = errors_of(minimal(font_size=40)).details
    assert details[0]["field"] == "spec.layers[1].font_size" and details[0]["type"] == "extra_forbidden"
    data = minimal()
    data["layers"][1] = {"id": "x", "type": "video"}
    details = errors_of(data).details
    assert details[0]["layer_index"] == 1 and details[0]["layer_id"] == "x"


def test_cross_field_rules() -> None:
    assert "min_size" in errors_of(minimal(min_size=90, max_size=40)).details[0]["message"]
    details = errors_of(minimal(box=[0.5, 0.5, 0.6, 0.2])).details
    assert details[0]["field"].startswith("spec.layers[1].box")
    shape = {"key": "k", "name": "n", "content_type": "quote", "layers": [{"id": "s", "type": "shape"}]}
    assert "exactly one" in errors_of(shape).details[0]["message"]


def test_override_errors_name_the_format_and_field() -> None:
    details = errors_of(minimal(overrides={"square": {"min_size": 900}})).details
    assert details[0]["layer_id"] == "title"
    assert "overrides.square.min_size" in details[0]["message"]
    assert details[0]["field"] == "spec.layers[1].overrides.square.min_size"
    details = errors_of(minimal(overrides={"square": {"id": "other"}})).details
    assert "unknown field" in details[0]["message"]


def test_duplicate_layer_ids_and_repeated_formats_are_refused() -> None:
    data = minimal()
    data["layers"][1]["id"] = "bg"
    assert "used twice" in errors_of(data).message
    assert "repeat" in errors_of({**minimal(), "formats": ["square", "square"]}).message


def test_a_builtin_survives_a_json_round_trip() -> None:
    spec = builtin_specs()["player_spotlight"]
    again = validate_spec(copy.deepcopy(spec.model_dump(mode="json")))
    assert again == spec


def test_not_an_object() -> None:
    error = errors_of(["not", "a", "spec"])
    assert error.details and error.details[0]["field"] == "spec"


# --- the formatter ------------------------------------------------------------------------------


def test_fill_and_fallbacks_never_leak_placeholders_or_none() -> None:
    data = {"home": "Müller FC", "score": 2, "none": None, "empty": "  ", "ratio": 2.0, "pi": 3.14159}
    assert fill("{home} {score}", data) == "Müller FC 2"
    assert fill("{home} {away}", data) is None
    assert fill("{none}", data) is None and fill("{empty}", data) is None
    assert fill("{away|TBC} v {home}", data) == "TBC v Müller FC"
    assert fill("{ratio} / {pi}", data) == "2 / 3.14"
    assert fill("{{literal}} {home}", data) == "{literal} Müller FC"
    assert render_text("{home} {away_score}", "{home}", data) == "Müller FC"
    assert render_text("{x}", "{y}", data) == ""


def test_data_is_data_never_a_template() -> None:
    data = {"home": "{away} {__class__}", "away": "Evil"}
    assert fill("{home}", data) == "{away} {__class__}"
    assert fill("{home.__class__}", data) is None
    assert fill("{player.name} #{player.number}", {"player": {"name": "Ødegaard", "number": 8}}) == "Ødegaard #8"
    assert fill("{player}", {"player": {"name": "x"}}) is None  # an object never prints as "{'name': ...}"
    assert fill("{names}", {"names": ["Nuñez", None, "Çalhanoğlu"]}) == "Nuñez, Çalhanoğlu"


def test_unmatched_braces_print_as_written_and_controls_are_dropped() -> None:
    assert fill("50% {off", {}) == "50% {off"
    assert fill("{name}", {"name": "A\x00B\u0007"}) == "AB"
    assert fill("{name}", {"name": "Nun\u0303ez"}) == "Nuñez"  # NFC: one precomposed letter


def test_render_caption_drops_lines_with_missing_data() -> None:
    template = builtin_specs()["match_result"].caption_template
    caption = render_caption(template, {"home_team": "A", "away_team": "B", "home_score": 1, "away_score": 0})
    assert caption == "FULL TIME | A 1-0 B"
    full = render_caption(template, {**builtin_specs()["match_result"].example})
    assert "{" not in full and "None" not in full and "#matchday" in full
