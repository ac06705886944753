"""The dev server's parts in process: function loading, the local cron, the preview page."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sociallab.config import get_settings
from sociallab.content.templates import sync_builtin_templates
from sociallab.db import Database
from sociallab.dev import cron, preview
from sociallab.dev.demo_insights import seed_demo_insights
from sociallab.dev.loader import load_functions
from sociallab.dev.sandboxes.start import Sandboxes
from sociallab.dev.seed import DEMO_USER_ID, DEMO_WORKSPACE_ID, seed_demo
from sociallab.dev.server import build_app, jobs_of

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


def test_next_run_is_the_next_boundary() -> None:
    assert cron.next_run(120.0, 60) == 180.0
    assert cron.next_run(179.9, 60) == 180.0
    assert cron.next_run(0.0, 900) == 900.0


def test_insights_sync_also_runs_shortly_after_start() -> None:
    """So the demo account has insights rows without waiting for the hour."""
    functions = load_functions([Path(__file__).resolve().parents[2] / "functions"])
    jobs = {job.function: job for job in jobs_of(functions)}
    assert cron.first_run(1000.0, jobs["insights-sync"]) == 1150.0
    assert cron.first_run(1000.0, jobs["publish-due"]) == 1020.0


def test_functions_are_loaded_by_path_under_unique_names(tmp_path: Path) -> None:
    functions = load_functions([FIXTURES])
    assert [f.name for f in functions] == ["echo", "ticker"]
    assert all(f.router is not None for f in functions)
    assert jobs_of(functions) == [cron.Job("ticker", 60)]
    assert jobs_of(functions, at_most_every=5) == [cron.Job("ticker", 5)]
    # the same name in two folders is an error, not a silent replacement
    shutil.copytree(FIXTURES / "echo", tmp_path / "echo")
    with pytest.raises(ValueError, match="echo"):
        load_functions([FIXTURES, tmp_path])


async def test_the_cron_calls_scheduled_functions_with_the_scheduler_secret(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_SECRET", "cron-secret")
    monkeypatch.setenv("URL_SIGNING_KEY", "k")
    app = build_app(load_functions([FIXTURES]), settings=get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dev") as client:
        assert await cron.run_job(client, cron.Job("ticker", 60), "cron-secret") == 200
        assert await cron.run_job(client, cron.Job("ticker", 60), "wrong") == 401

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://dev") as client:
        assert await cron.run_job(client, cron.Job("ticker", 60), "cron-secret") == 0


async def test_seed_is_idempotent_and_the_preview_lists_posts(db: Database) -> None:
    await seed_demo(db)
    await seed_demo(db)
    assert await db.fetch_val("SELECT count(*) FROM workspaces WHERE id = %(id)s", {"id": DEMO_WORKSPACE_ID}) == 1
    role = await db.fetch_val("SELECT role FROM workspace_members WHERE user_id = %(id)s", {"id": DEMO_USER_ID})
    assert role == "owner"
    account = await db.fetch_val(
        """INSERT INTO instagram_accounts (workspace_id, ig_user_id, username)
           VALUES (%(w)s, '1784', 'demofc') RETURNING id""",
        {"w": DEMO_WORKSPACE_ID},
    )
    await db.execute(
        """INSERT INTO posts (workspace_id, instagram_account_id, media_type, status, caption)
           VALUES (%(w)s, %(a)s, 'IMAGE', 'draft', %(c)s)""",
        {"w": DEMO_WORKSPACE_ID, "a": account, "c": "Full time <b>3-1</b>"},
    )
    html = await preview.page(db, load_functions([FIXTURES]), "http://dev", Sandboxes())
    assert "Drafts (1)" in html
    assert "Full time &lt;b&gt;3-1&lt;/b&gt;" in html  # escaped, never raw
    assert "Published (to the Instagram sandbox) (0)" in html


async def test_demo_insights_show_best_times_and_template_figures_on_the_preview(db: Database) -> None:
    await seed_demo(db)
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
    account = await db.fetch_val(
        """INSERT INTO instagram_accounts (workspace_id, ig_user_id, username)
           VALUES (%(w)s, '1785', 'demofc') RETURNING id""",
        {"w": DEMO_WORKSPACE_ID},
    )
    now = datetime.now(UTC)
    assert await seed_demo_insights(db, account_id=str(account), now=now)
    assert not await seed_demo_insights(db, account_id=str(account), now=now)  # once
    counts = await db.fetch_one(
        """SELECT (SELECT count(*) FROM audience_online_hours) AS hours,
                  (SELECT count(*) FROM post_performance WHERE engagement_rate IS NOT NULL) AS posts,
                  (SELECT count(DISTINCT day) FROM account_daily_insights) AS days"""
    )
    assert dict(counts or {}) == {"hours": 168, "posts": 16, "days": 28}

    html = await preview.page(db, load_functions([FIXTURES]), "http://dev", Sandboxes())
    assert "Best times for @demofc (Europe/Amsterdam)" in html
    assert html.count("of your followers&#x27; peak are online") >= 5
    assert "Templates for @demofc" in html
    assert "<b>match_result_bold</b>" in html and "8 (8 with insights)" in html
