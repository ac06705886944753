"""The preview page of `make run`: the functions, each active account's best times and template
figures, and every post as the frontend would list it."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from sociallab.db import Database, load_queries
from sociallab.dev.loader import LoadedFunction
from sociallab.dev.sandboxes.start import Sandboxes, published_media
from sociallab.errors import AppError
from sociallab.performance.api_models import TemplatePerformanceOut
from sociallab.performance.service import template_performance
from sociallab.scheduling import best_times, times
from sociallab.storage import Storage, get_storage

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))
SECTIONS = [
    ("Drafts", ("draft", "pending_approval")),
    ("Scheduled", ("scheduled", "publishing")),
    ("Published (to the Instagram sandbox)", ("published",)),
    ("Failed or cancelled", ("failed", "cancelled")),
]

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1f}
h1{margin-bottom:.2rem} code{background:#f2f2f5;padding:.1rem .3rem;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem} td,th{border-bottom:1px solid #ddd;
padding:.4rem;text-align:left;vertical-align:top} .muted{color:#777} img{max-width:180px;border-radius:6px}
"""


def _cell(value: Any) -> str:
    return '<span class="muted">—</span>' if value in (None, "") else escape(str(value))


def render(
    functions: list[LoadedFunction],
    posts: list[dict[str, Any]],
    base_url: str,
    sandbox_published: list[dict[str, Any]] | None = None,
    accounts: list[dict[str, Any]] | None = None,
    learning: list[dict[str, Any]] | None = None,
) -> str:
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8><title>SocialLab preview</title>",
        f"<style>{_STYLE}</style><h1>SocialLab</h1>",
        f'<p class=muted>Local preview · <a href="{escape(base_url)}/openapi.json">OpenAPI</a> · '
        f'<a href="{escape(base_url)}/healthz">health</a></p>',
        "<h2>Functions</h2><ul>",
    ]
    for function in functions:
        routes = function.router.routes if function.router else []
        listed = ", ".join(f"<code>{escape(r.method)} {escape(r.path)}</code>" for r in routes if r.path != "/healthz")
        parts.append(f"<li><b>{escape(function.name)}</b> {listed}</li>")
    if not functions:
        parts.append("<li class=muted>No functions yet.</li>")
    parts.append("</ul>")
    if accounts is not None:
        parts.append(f"<h2>Instagram accounts ({len(accounts)})</h2><ul>")
        for account in accounts:
            why = f" — {escape(account['status_reason'])}" if account["status_reason"] else ""
            parts.append(
                f"<li>@{_cell(account['username'] or account['ig_user_id'])} ({_cell(account['workspace'])}): "
                f"<b>{_cell(account['status'])}</b>{why}</li>"
            )
        parts.append(
            '</ul><p><a href="/dev/instagram/connect">Connect an Instagram account</a> '
            "<span class=muted>(as the demo user: start, consent, then complete with the user's own token)</span></p>"
        )
    for account in learning or []:
        parts.append(_learning(account))
    for title, statuses in SECTIONS:
        rows = [p for p in posts if p["status"] in statuses]
        parts.append(f"<h2>{escape(title)} ({len(rows)})</h2>")
        if not rows:
            parts.append("<p class=muted>None.</p>")
            continue
        parts.append(
            "<table><tr><th>Image</th><th>When</th><th>Status</th><th>Type</th><th>Caption</th>"
            "<th>Link / error</th></tr>"
        )
        for post in rows:
            when = post["published_at"] or post["scheduled_at"]
            link = (
                f'<a href="{escape(post["permalink"])}">{escape(post["permalink"])}</a>'
                if post["permalink"]
                else _cell(post["last_error"] or post["failure_reason"])
            )
            image = f'<img src="{escape(post["image_url"])}" alt="">' if post.get("image_url") else _cell(None)
            parts.append(
                f"<tr><td>{image}</td><td>{_cell(when)}</td><td>{_cell(post['status'])}</td><td>{_cell(post['media_type'])}</td>"
                f"<td>{_cell(post['caption'])}</td><td>{link}</td></tr>"
            )
        parts.append("</table>")
    if sandbox_published is not None:
        parts.append(f"<h2>What the Instagram sandbox received ({len(sandbox_published)})</h2><ul>")
        for media in sandbox_published:
            parts.append(f"<li><code>{escape(str(media.get('id')))}</code> {_cell(media.get('caption'))}</li>")
        parts.append("</ul>")
    return "".join(parts)


def _pct(value: float | None) -> str:
    return _cell(None) if value is None else f"{value * 100:.1f} %"


def _compared(items: list[TemplatePerformanceOut]) -> list[TemplatePerformanceOut]:
    """The templates the selector chooses between (two or more of a content type and format) or that have posts."""
    groups = Counter((i.content_type, i.format) for i in items)
    return [i for i in items if i.posts or groups[(i.content_type, i.format)] > 1]


def _learning(account: dict[str, Any]) -> str:
    """An account's best times (local) and each template's figures and the selector's belief."""
    tz = times.zone(account["timezone"])
    name = escape(account["username"] or account["ig_user_id"])
    parts = [
        f"<h2>Best times for @{name} ({escape(account['timezone'])})</h2>",
        "<table><tr><th>When</th><th>Score</th><th>Why</th></tr>",
    ]
    for slot in account["slots"]:
        parts.append(
            f"<tr><td>{slot.at.astimezone(tz):%a %d %b %H:%M}</td><td>{slot.score:.2f}</td>"
            f"<td>{escape(slot.reason)}</td></tr>"
        )
    parts.append(
        f"</table><h2>Templates for @{name}</h2><table><tr><th>Template</th><th>Content · format</th><th>Posts</th>"
        "<th>Mean engagement</th><th>Belief (95 %)</th><th>Chosen now</th></tr>"
    )
    for item in _compared(account["templates"].items):
        belief = item.belief
        parts.append(
            f"<tr><td><b>{escape(item.key)}</b> {escape(item.name)}</td>"
            f"<td>{escape(item.content_type)} · {escape(item.format)}</td>"
            f"<td>{item.posts} ({item.posts_with_insights} with insights)</td>"
            f"<td>{_pct(item.mean_engagement_rate)}</td>"
            f"<td>{_pct(belief.mean)} ({_pct(belief.low)} to {_pct(belief.high)})</td>"
            f"<td>{item.choice_probability * 100:.0f} %</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


async def _learning_of(db: Database) -> list[dict[str, Any]]:
    out = []
    async with db.transaction() as tx:
        for account in await tx.fetch_all(QUERIES["learning_accounts"]):
            account_id, workspace_id = str(account["id"]), str(account["workspace_id"])
            slots = await best_times.suggest(tx, account_id=account_id, count=5, now=times.utcnow())
            figures = await template_performance(tx, workspace_id=workspace_id, account_id=account_id)
            out.append({**account, "slots": slots, "templates": figures})
    return out


async def _image_url(storage: Storage, path: str | None) -> str | None:
    if not path:
        return None
    try:
        return await storage.signed_url(path, 3600)
    except AppError:
        return None


async def page(db: Database, functions: list[LoadedFunction], base_url: str, sandboxes: Sandboxes) -> str:
    storage = get_storage()
    posts = [
        {**post, "image_url": await _image_url(storage, post["image_path"])}
        for post in await db.fetch_all(QUERIES["posts"])
    ]
    sandbox_published = published_media(sandboxes) if sandboxes.instagram else None
    accounts = await db.fetch_all(QUERIES["accounts"])
    return render(functions, posts, base_url, sandbox_published, accounts, await _learning_of(db))
