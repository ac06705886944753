"""Built-in and workspace templates: validation, seeding as rows, loading.

Built-ins ship as `builtin/<key>.json` (one spec serving every format). `sync_builtin_templates`
stores each (key, format) as a row with `workspace_id` NULL holding the spec reduced to that format;
it is idempotent, and a spec that changed gets a new row with the next `version` (older versions are
deactivated, never deleted: posts keep pointing at the version they were made with). Workspaces
save their own templates the same way. Loading returns the newest active version, a workspace's own
template of a key winning over the built-in of that key.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import ValidationError

from sociallab.content.templates.formatting import render_caption
from sociallab.content.templates.spec import TemplateSpec
from sociallab.db import Row, Tx, load_queries
from sociallab.errors import ConflictError, NotFoundError, RequestValidationError
from sociallab.logging import get_logger

BUILTIN_DIR = Path(__file__).with_name("builtin")
QUERIES = load_queries(Path(__file__).with_name("templates.sql"))
log = get_logger(__name__)
_OVERRIDE = re.compile(r"(overrides\.[a-z0-9_]+(?:\.[A-Za-z0-9_.]+)?)")


@dataclass(frozen=True)
class TemplateRecord:
    """One usable template row: `spec` is already reduced to `format`."""

    id: uuid.UUID
    workspace_id: uuid.UUID | None
    key: str
    name: str
    description: str
    content_type: str
    format: str
    version: int
    spec: TemplateSpec
    caption_template: str

    @property
    def is_builtin(self) -> bool:
        return self.workspace_id is None

    def caption(self, data: dict[str, Any]) -> str:
        """The fallback caption filled from `data` (lines with missing data dropped)."""
        return render_caption(self.caption_template, data)


@dataclass
class SyncResult:
    """What `sync_builtin_templates` did: `inserted` lists (key, format, version)."""

    inserted: list[tuple[str, str, int]] = field(default_factory=list)
    unchanged: int = 0
    deactivated: int = 0


# --- validation ---------------------------------------------------------------------------------


def validate_spec(data: Any) -> TemplateSpec:
    """`data` as a TemplateSpec.

    Raises:
        RequestValidationError: one detail per problem; details name the layer (index and id) and
            the field, e.g. `{"field": "spec.layers[3].max_size", "layer_index": 3, "layer_id": "title"}`.
    """
    try:
        return TemplateSpec.model_validate(data)
    except ValidationError as exc:
        details = [_detail(err, data) for err in exc.errors(include_url=False, include_input=False)]
        first = details[0]
        raise RequestValidationError(
            f"The template spec is invalid: {first['field']}: {first['message']}", details=details
        ) from None


def _detail(err: Any, data: Any) -> dict[str, Any]:
    loc = list(err["loc"])
    detail: dict[str, Any] = {"message": err["msg"], "type": err["type"]}
    parts = ["spec"]
    if len(loc) >= 2 and loc[0] == "layers" and isinstance(loc[1], int):
        index = loc[1]
        raw = data.get("layers") if isinstance(data, dict) else None
        layer = raw[index] if isinstance(raw, list) and index < len(raw) else None
        layer_id = layer.get("id") if isinstance(layer, dict) else None
        detail["layer_index"] = index
        detail["layer_id"] = layer_id if isinstance(layer_id, str) else None
        parts.append(f"layers[{index}]")
        rest = loc[2:]
        # A discriminated union puts the layer type into the path; it says nothing to a user.
        if rest and isinstance(layer, dict) and rest[0] == layer.get("type"):
            rest = rest[1:]
        parts.extend(str(p) for p in rest)
        override = _OVERRIDE.search(err["msg"]) if not rest else None
        if override:  # a per-format patch failed: point at the patched field
            parts.append(override.group(1).rstrip("."))
        name = f"layer {index}" + (f" ({layer_id!r})" if isinstance(layer_id, str) else "")
        detail["message"] = f"{name}: {err['msg']}"
    else:
        parts.extend(str(p) for p in loc)
    detail["field"] = ".".join(parts).replace(".[", "[")
    return detail


# --- built-ins ----------------------------------------------------------------------------------


@cache
def builtin_specs() -> dict[str, TemplateSpec]:
    """The built-in templates shipped in the package, by key.

    Raises:
        RequestValidationError: a shipped spec is invalid (a packaging bug; tests load every one).
    """
    specs: dict[str, TemplateSpec] = {}
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        spec = validate_spec(json.loads(path.read_text(encoding="utf-8")))
        if spec.key != path.stem:
            raise RequestValidationError(f"{path.name}: key {spec.key!r} does not match the file name")
        specs[spec.key] = spec
    return specs


def builtin_record(key: str, fmt: str) -> TemplateRecord:
    """A built-in as a record without the database (previews, benchmarks, tests): id is a fixed uuid5.

    Raises:
        NotFoundError: no such built-in or format.
    """
    spec = builtin_specs().get(key)
    if spec is None or fmt not in spec.formats:
        raise NotFoundError(f"No built-in template {key!r} in format {fmt!r}.")
    return TemplateRecord(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"sociallab:template:{key}:{fmt}"),
        workspace_id=None,
        key=key,
        name=spec.name,
        description=spec.description,
        content_type=spec.content_type,
        format=fmt,
        version=1,
        spec=spec.for_format(fmt),
        caption_template=spec.caption_template,
    )


def _row_values(spec: TemplateSpec, fmt: str) -> dict[str, Any]:
    reduced = spec.for_format(fmt)
    return {
        "key": spec.key,
        "name": spec.name,
        "description": spec.description,
        "content_type": spec.content_type,
        "format": fmt,
        "spec": reduced.model_dump(mode="json"),
        "caption_template": spec.caption_template,
    }


async def sync_builtin_templates(tx: Tx) -> SyncResult:
    """Make the `templates` rows of built-ins match the package (idempotent; safe to run concurrently).

    A (key, format) whose spec, name, description, content type or caption changed gets a new row
    with the next version; older versions and built-ins no longer shipped are deactivated.

    Raises:
        RequestValidationError: a shipped spec is invalid.
    """
    result = SyncResult()
    await tx.execute(QUERIES["lock_builtin_sync"])
    shipped: list[str] = []
    for spec in builtin_specs().values():
        for fmt in spec.formats:
            shipped.append(f"{spec.key}/{fmt}")
            values = _row_values(spec, fmt)
            latest = await tx.fetch_one(QUERIES["latest_builtin"], {"key": spec.key, "format": fmt})
            if latest is not None and _same(latest, values):
                await tx.execute(QUERIES["activate"], {"id": latest["id"]})
                result.unchanged += 1
                continue
            version = 1 if latest is None else latest["version"] + 1
            await tx.fetch_one(
                QUERIES["insert_template"],
                {**values, "workspace_id": None, "version": version, "spec": Jsonb(values["spec"])},
            )
            await tx.execute(
                QUERIES["deactivate_older"],
                {"workspace_id": None, "key": spec.key, "format": fmt, "version": version},
            )
            result.inserted.append((spec.key, fmt, version))
    result.deactivated = await tx.execute(QUERIES["deactivate_unshipped_builtins"], {"shipped": shipped})
    if result.inserted or result.deactivated:
        log.info(
            "built-in templates synced",
            extra={"inserted": len(result.inserted), "deactivated": result.deactivated},
        )
    return result


def _same(row: Row, values: dict[str, Any]) -> bool:
    return all(row[name] == values[name] for name in ("spec", "name", "description", "content_type")) and (
        (row["caption_template"] or "") == values["caption_template"]
    )


# --- workspace templates ------------------------------------------------------------------------


async def save_workspace_template(tx: Tx, workspace_id: uuid.UUID | str, data: Any) -> list[TemplateRecord]:
    """Validate `data` and store it for every format it has, as the next version of each.

    Raises:
        RequestValidationError: the spec is invalid (details name the layer and field).
        UnprocessableError: the workspace does not exist (foreign key).
        ConflictError: a concurrent save took the same version; retry.
    """
    spec = validate_spec(data)
    records = []
    for fmt in spec.formats:
        values = _row_values(spec, fmt)
        version = await tx.fetch_val(
            QUERIES["next_version"], {"workspace_id": workspace_id, "key": spec.key, "format": fmt}
        )
        params = {**values, "workspace_id": workspace_id, "version": version, "spec": Jsonb(values["spec"])}
        row = await tx.fetch_one(QUERIES["insert_template"], params)
        if row is None:  # a concurrent save took this version; the caller may retry
            raise ConflictError("This template was saved concurrently; try again.")
        await tx.execute(
            QUERIES["deactivate_older"],
            {"workspace_id": workspace_id, "key": spec.key, "format": fmt, "version": version},
        )
        records.append(await get_template_by_id(tx, workspace_id, row["id"]))
    return records


# --- loading ------------------------------------------------------------------------------------


def _record(row: Row) -> TemplateRecord:
    spec = TemplateSpec.model_validate(row["spec"])
    return TemplateRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        key=row["key"],
        name=row["name"] or spec.name,
        description=row["description"] or "",
        content_type=row["content_type"],
        format=row["format"],
        version=row["version"],
        spec=spec.for_format(row["format"]) if row["format"] in spec.formats else spec,
        caption_template=row["caption_template"] or spec.caption_template,
    )


async def list_templates(
    tx: Tx,
    workspace_id: uuid.UUID | str,
    *,
    content_type: str | None = None,
    format: str | None = None,
    key: str | None = None,
) -> list[TemplateRecord]:
    """The templates `workspace_id` may use (newest active version of each key and format).

    Rows whose stored spec no longer validates are skipped with a warning, never raised.
    """
    rows = await tx.fetch_all(
        QUERIES["list_available"],
        {"workspace_id": workspace_id, "content_type": content_type, "format": format, "key": key},
    )
    records = []
    for row in rows:
        try:
            records.append(_record(row))
        except (ValidationError, ValueError):
            log.warning("skipping a template whose spec is invalid", extra={"template_id": str(row["id"])})
    return records


async def get_template(tx: Tx, workspace_id: uuid.UUID | str, *, key: str, format: str) -> TemplateRecord:
    """The template `key` in `format` for `workspace_id` (its own first, else the built-in).

    Raises:
        NotFoundError: no usable template of that key and format.
    """
    records = await list_templates(tx, workspace_id, key=key, format=format)
    if not records:
        raise NotFoundError(f"No template {key!r} in format {format!r}.")
    return records[0]


async def get_template_by_id(tx: Tx, workspace_id: uuid.UUID | str, template_id: uuid.UUID | str) -> TemplateRecord:
    """A template row by id, if it is a built-in or belongs to `workspace_id` (any version).

    Raises:
        NotFoundError: no such template for this workspace, or its stored spec is invalid.
    """
    row = await tx.fetch_one(QUERIES["get_by_id"], {"id": template_id, "workspace_id": workspace_id})
    if row is None:
        raise NotFoundError("No such template.")
    try:
        return _record(row)
    except (ValidationError, ValueError):
        raise NotFoundError("This template's spec is no longer valid.") from None
