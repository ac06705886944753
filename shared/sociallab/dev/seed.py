"""The demo workspace of `make run`: a user, a workspace they own, a finished and an upcoming match. Idempotent."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from sociallab.config import Settings
from sociallab.db import Database, load_queries

DEMO_USER_ID = "00000000-0000-4000-8000-000000000001"
DEMO_WORKSPACE_ID = "00000000-0000-4000-8000-000000000002"
DEMO_MATCH_ID = "00000000-0000-4000-8000-000000000003"
DEMO_FINISHED_MATCH_ID = "00000000-0000-4000-8000-000000000004"
DEMO_EMAIL = "demo@sociallab.local"
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


async def seed_demo(db: Database) -> None:
    params = {
        "user_id": DEMO_USER_ID,
        "email": DEMO_EMAIL,
        "workspace_id": DEMO_WORKSPACE_ID,
        "match_id": DEMO_MATCH_ID,
        "finished_match_id": DEMO_FINISHED_MATCH_ID,
    }
    async with db.transaction() as tx:
        for name in ("user", "workspace", "member", "match", "finished_match"):
            await tx.execute(QUERIES[name], params)


def mint_user_token(settings: Settings, user_id: str, *, email: str | None = None, ttl: int = 30 * 86400) -> str:
    """A Supabase-style access token signed with the (dev) HS256 secret."""
    now = int(time.time())
    claims = {"sub": user_id, "aud": settings.jwt_audience, "role": "authenticated", "iat": now, "exp": now + ttl}
    if email:
        claims["email"] = email
    if settings.expected_issuer:
        claims["iss"] = settings.expected_issuer
    return jwt.encode(claims, settings.secret("supabase_jwt_secret"), algorithm="HS256")
