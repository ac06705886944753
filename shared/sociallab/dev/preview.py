"""The preview page of `make run`: the functions, and every post as the frontend would list it."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from sociallab.db import Database, load_queries
from sociallab.dev.loader import LoadedFunction

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
padding:.4rem;text-align:left;vertical-align:top} .muted{color:#777}
"""


def _cell(value: Any) -> str:
    return '<span class="muted">—</span>' if value in (None, "") else escape(str(value))


def render(functions: list[LoadedFunction], posts: list[dict[str, Any]], base_url: str) -> str:
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
    for title, statuses in SECTIONS:
        rows = [p for p in posts if p["status"] in statuses]
        parts.append(f"<h2>{escape(title)} ({len(rows)})</h2>")
        if not rows:
            parts.append("<p class=muted>None.</p>")
            continue
        parts.append("<table><tr><th>When</th><th>Status</th><th>Type</th><th>Caption</th><th>Link / error</th></tr>")
        for post in rows:
            when = post["published_at"] or post["scheduled_at"]
            link = (
                f'<a href="{escape(post["permalink"])}">{escape(post["permalink"])}</a>'
                if post["permalink"]
                else _cell(post["last_error"])
            )
            parts.append(
                f"<tr><td>{_cell(when)}</td><td>{_cell(post['status'])}</td><td>{_cell(post['media_type'])}</td>"
                f"<td>{_cell(post['caption'])}</td><td>{link}</td></tr>"
            )
        parts.append("</table>")
    return "".join(parts)


async def page(db: Database, functions: list[LoadedFunction], base_url: str) -> str:
    return render(functions, await db.fetch_all(QUERIES["posts"]), base_url)
