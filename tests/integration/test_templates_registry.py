"""The template registry against real PostgreSQL: seeding built-ins, versions, workspace templates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from sociallab.content.templates import (
    builtin_specs,
    get_template,
    get_template_by_id,
    list_templates,
    save_workspace_template,
    sync_builtin_templates,
)
from sociallab.db import Database
from sociallab.errors import NotFoundError, RequestValidationError
from tests.integration.factories import create_template, create_workspace

pytestmark = pytest.mark.integration

BUILTIN_ROWS = sum(len(spec.formats) for spec in builtin_specs().values())


def custom_spec(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "club.banner",
        "name": "Club banner",
        "content_type": "announcement",
        "formats": ["feed_4x5", "square"],
        "caption_template": "{title}",
        "layers": [
            {"id": "bg", "type": "shape", "fill": "primary"},
            {"id": "title", "type": "text", "text": "{title}", "fallback": "News"},
        ],
        **overrides,
    }


async def builtin_rows(db: Database) -> list[dict[str, Any]]:
    return await db.fetch_all(
        "SELECT key, format, version, is_active, spec FROM public.templates WHERE workspace_id IS NULL"
        " ORDER BY key, format, version"
    )


async def test_sync_seeds_every_builtin_once_and_is_idempotent(db: Database) -> None:
    async with db.transaction() as tx:
        first = await sync_builtin_templates(tx)
    assert len(first.inserted) == BUILTIN_ROWS >= 15 and first.unchanged == 0
    async with db.transaction() as tx:
        second = await sync_builtin_templates(tx)
    assert second.inserted == [] and second.unchanged == BUILTIN_ROWS
    rows = await builtin_rows(db)
    assert len(rows) == BUILTIN_ROWS and all(r["version"] == 1 and r["is_active"] for r in rows)
    story = next(r for r in rows if r["key"] == "match_result" and r["format"] == "story_9x16")
    assert story["spec"]["formats"] == ["story_9x16"]  # each row holds the spec reduced to its format


async def test_a_changed_spec_gets_the_next_version(db: Database) -> None:
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
        # The row in the database now differs from the package (as after a release that edits it).
        await tx.execute(
            'UPDATE public.templates SET spec = spec || \'{"description": "old"}\'::jsonb'
            " WHERE workspace_id IS NULL AND key = 'quote' AND format = 'square'"
        )
    async with db.transaction() as tx:
        result = await sync_builtin_templates(tx)
    assert result.inserted == [("quote", "square", 2)]
    rows = [r for r in await builtin_rows(db) if r["key"] == "quote" and r["format"] == "square"]
    assert [(r["version"], r["is_active"]) for r in rows] == [(1, False), (2, True)]
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        record = await get_template(tx, ws["id"], key="quote", format="square")
    assert record.version == 2


async def test_builtins_no_longer_shipped_are_deactivated(db: Database) -> None:
    async with db.transaction() as tx:
        old = await create_template(tx, None, key="retired_layout")
        result = await sync_builtin_templates(tx)
    assert result.deactivated == 1
    assert (
        await db.fetch_val("SELECT is_active FROM public.templates WHERE id = %(id)s::uuid", {"id": old["id"]}) is False
    )


async def test_concurrent_syncs_do_not_collide(db: Database) -> None:
    async def sync() -> int:
        async with db.transaction() as tx:
            return len((await sync_builtin_templates(tx)).inserted)

    inserted = await asyncio.gather(sync(), sync())
    assert sorted(inserted) == [0, BUILTIN_ROWS]
    assert len(await builtin_rows(db)) == BUILTIN_ROWS


async def test_listing_filters_and_workspace_templates_win(db: Database) -> None:
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
        ws = await create_workspace(tx)
        other = await create_workspace(tx)
        everything = await list_templates(tx, ws["id"])
        assert len(everything) == BUILTIN_ROWS and all(r.is_builtin for r in everything)
        feed_results = await list_templates(tx, ws["id"], content_type="match_result", format="feed_4x5")
        assert [(r.key, r.format) for r in feed_results] == [("match_result", "feed_4x5")]
        assert feed_results[0].spec.formats == ["feed_4x5"] and feed_results[0].caption_template

        # A workspace's own "quote" replaces the built-in for that workspace only.
        await save_workspace_template(tx, ws["id"], custom_spec(key="quote", content_type="quote"))
        mine = await get_template(tx, ws["id"], key="quote", format="square")
        theirs = await get_template(tx, other["id"], key="quote", format="square")
        assert mine.workspace_id == ws["id"] and theirs.is_builtin
        # The built-in story of "quote" stays available: the workspace version has no story format.
        assert (await get_template(tx, ws["id"], key="quote", format="story_9x16")).is_builtin
        with pytest.raises(NotFoundError):
            await get_template_by_id(tx, other["id"], mine.id)


async def test_rows_with_invalid_specs_are_skipped(db: Database) -> None:
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        broken = await create_template(tx, ws["id"], key="broken", spec=Jsonb({"layers": []}))
        assert await list_templates(tx, ws["id"], key="broken") == []
        with pytest.raises(NotFoundError):
            await get_template(tx, ws["id"], key="broken", format="feed_4x5")
        with pytest.raises(NotFoundError):
            await get_template_by_id(tx, ws["id"], broken["id"])


async def test_saving_workspace_templates_versions_and_validates(db: Database) -> None:
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        first = await save_workspace_template(tx, ws["id"], custom_spec())
        assert sorted((r.format, r.version) for r in first) == [("feed_4x5", 1), ("square", 1)]
        second = await save_workspace_template(tx, ws["id"], custom_spec(name="Club banner v2"))
        assert {r.version for r in second} == {2}
        current = await get_template(tx, ws["id"], key="club.banner", format="square")
        assert current.name == "Club banner v2" and current.caption({"title": "Hi"}) == "Hi"
        older = await get_template_by_id(tx, ws["id"], first[0].id)
        assert older.version == 1  # posts keep pointing at the version they were made with

        bad = custom_spec()
        bad["layers"][1]["max_lines"] = 0
        with pytest.raises(RequestValidationError) as info:
            await save_workspace_template(tx, ws["id"], bad)
        detail = info.value.details[0]
        assert (detail["layer_index"], detail["layer_id"], detail["field"]) == (1, "title", "spec.layers[1].max_lines")
