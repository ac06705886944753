"""Template selection: eligibility by content type, format and photos; engagement; the fallback order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from sociallab.content.selector import PostgresEngagement, select_template
from sociallab.db import Database, Row, Tx
from sociallab.errors import RequestValidationError
from tests.integration import factories as f

pytestmark = pytest.mark.integration


def spec(key: str, *, photos: int = 1, content_type: str = "match_result", required: bool = True) -> dict[str, Any]:
    layers: list[dict[str, Any]] = [
        {"id": f"photo{i}", "type": "photo", "index": i, "required": required} for i in range(photos)
    ]
    layers.append({"id": "title", "type": "text", "text": "{home_team}", "fallback": "Full time"})
    return {
        "key": key,
        "name": key.title(),
        "content_type": content_type,
        "formats": ["feed_4x5", "square"],
        "caption_template": "{home_team} won",
        "layers": layers,
    }


async def template(
    tx: Tx, workspace_id: Any, key: str, *, fmt: str = "feed_4x5", version: int = 1, **kwargs: Any
) -> Row:
    body = spec(key, **kwargs)
    return await f.create_template(
        tx,
        workspace_id,
        key=key,
        format=fmt,
        content_type=body["content_type"],
        spec={**body, "formats": [fmt]},
        caption_template=body["caption_template"],
        version=version,
    )


async def insights(tx: Tx, template_row: Row, account: Row, *, reach: int, interactions: int) -> None:
    post = await f.create_post(
        tx,
        account["workspace_id"],
        status="published",
        instagram_account_id=account["id"],
        template_id=template_row["id"],
    )
    await f.insert(
        tx,
        "media_insights",
        {
            "workspace_id": account["workspace_id"],
            "instagram_account_id": account["id"],
            "ig_media_id": post["ig_media_id"],
            "post_id": post["id"],
            "reach": reach,
            "total_interactions": interactions,
        },
    )


@pytest.fixture
async def ws(db: Database) -> Row:
    async with db.transaction() as tx:
        return await f.create_workspace(tx)


async def test_no_template_for_the_content_type_is_a_422_naming_it(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        with pytest.raises(RequestValidationError) as caught:
            await select_template(tx, workspace_id=ws["id"], content_type="quote", format="feed_4x5", photo_count=1)
    assert caught.value.details[0]["field"] == "content_type"


async def test_fallback_prefers_the_workspace_own_then_key_order(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        other = await f.create_workspace(tx, name="Other FC")
        await template(tx, None, "a-builtin")
        await template(tx, None, "b-builtin")
        await template(tx, other["id"], "a-other")  # another workspace's: never offered
        own = await template(tx, ws["id"], "z-own")
        await template(tx, ws["id"], "a-story", fmt="story_9x16")  # another format
        choice = await select_template(
            tx, workspace_id=ws["id"], content_type="match_result", format="feed_4x5", photo_count=1
        )
        assert (choice.id, choice.reason, choice.eligible) == (own["id"], "default", 3)
        await tx.execute("UPDATE templates SET is_active = false WHERE id = %(id)s", {"id": own["id"]})
        choice = await select_template(
            tx, workspace_id=ws["id"], content_type="match_result", format="feed_4x5", photo_count=1
        )
        assert choice.key == "a-builtin"


async def test_photos_decide_what_is_eligible(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        await template(tx, None, "a-two-photos", photos=2)
        await template(tx, None, "b-one-photo", photos=1)
        await template(tx, None, "c-no-photo", photos=0)
        await template(tx, None, "d-optional-photo", photos=1, required=False)

        async def pick(photos: int) -> str:
            choice = await select_template(
                tx, workspace_id=ws["id"], content_type="match_result", format="feed_4x5", photo_count=photos
            )
            return choice.key

        assert await pick(2) == "a-two-photos"
        assert await pick(1) == "b-one-photo"
        assert await pick(0) == "c-no-photo"
        await tx.execute("UPDATE templates SET is_active = false WHERE key = 'c-no-photo'")
        assert await pick(0) == "d-optional-photo"
        await tx.execute("UPDATE templates SET is_active = false WHERE key = 'd-optional-photo'")
        with pytest.raises(RequestValidationError) as caught:
            await pick(0)
    assert caught.value.details[0]["field"] == "asset_ids"
    assert "at least 1 photo" in caught.value.message


async def test_a_requested_key_wins_and_an_unknown_one_is_named(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        await template(tx, None, "a-builtin")
        await template(tx, None, "b-builtin")
        choice = await select_template(
            tx,
            workspace_id=ws["id"],
            content_type="match_result",
            format="feed_4x5",
            photo_count=1,
            template_key="b-builtin",
        )
        assert (choice.key, choice.reason) == ("b-builtin", "requested")
        with pytest.raises(RequestValidationError) as caught:
            await select_template(
                tx,
                workspace_id=ws["id"],
                content_type="match_result",
                format="feed_4x5",
                photo_count=1,
                template_key="nope",
            )
    assert caught.value.details[0]["field"] == "template_key"


async def test_best_engagement_for_the_account_wins(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        account = await f.create_instagram_account(tx, ws["id"])
        other_account = await f.create_instagram_account(tx, ws["id"])
        a = await template(tx, None, "a-builtin")
        b_old = await template(tx, None, "b-builtin", version=1)
        b = await template(tx, None, "b-builtin", version=2)
        await tx.execute("UPDATE templates SET is_active = false WHERE id = %(id)s", {"id": b_old["id"]})
        c = await template(tx, None, "c-builtin")
        await insights(tx, a, account, reach=1000, interactions=20)  # 2 %
        await insights(tx, a, account, reach=1000, interactions=40)  # 4 %  -> mean 3 %
        await insights(tx, b_old, account, reach=100, interactions=9)  # the older version counts for b
        await insights(tx, b, account, reach=100, interactions=7)  # -> mean 8 %
        await insights(tx, c, account, reach=100, interactions=90)  # one post only: no score
        await insights(tx, c, other_account, reach=100, interactions=90)  # another account's

        scores = await PostgresEngagement().scores(tx, str(account["id"]), [a["id"], b["id"], c["id"]])
        assert scores == {a["id"]: pytest.approx(0.03), b["id"]: pytest.approx(0.08)}
        choice = await select_template(
            tx,
            workspace_id=ws["id"],
            content_type="match_result",
            format="feed_4x5",
            photo_count=1,
            account_id=account["id"],
        )
        assert (choice.key, choice.reason, choice.score) == ("b-builtin", "engagement", pytest.approx(0.08))
        # Without an account (or for an account with no insights) the fallback order holds.
        for account_id in (None, other_account["id"]):
            choice = await select_template(
                tx,
                workspace_id=ws["id"],
                content_type="match_result",
                format="feed_4x5",
                photo_count=1,
                account_id=account_id,
            )
            assert (choice.key, choice.reason) == ("a-builtin", "default")


class FixedScores:
    """Another EngagementSource (what insights-sync may provide later)."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.by_key = scores
        self.keys: dict[uuid.UUID, str] = {}

    async def scores(self, tx: Tx, account_id: str, template_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]:
        rows = await tx.fetch_all("SELECT id, key FROM templates WHERE id = ANY(%(ids)s)", {"ids": list(template_ids)})
        return {row["id"]: self.by_key[row["key"]] for row in rows if row["key"] in self.by_key}


async def test_any_engagement_source_plugs_in_and_ties_keep_the_fallback_order(db: Database, ws: Row) -> None:
    async with db.transaction() as tx:
        account = await f.create_instagram_account(tx, ws["id"])
        for key in ("a-builtin", "b-builtin", "c-builtin"):
            await template(tx, None, key)
        source = FixedScores({"b-builtin": 0.5, "c-builtin": 0.5})
        choice = await select_template(
            tx,
            workspace_id=ws["id"],
            content_type="match_result",
            format="feed_4x5",
            photo_count=1,
            account_id=account["id"],
            engagement=source,
        )
    assert (choice.key, choice.reason) == ("b-builtin", "engagement")
