"""Workspace roles: viewer < editor < owner (API.md: viewer reads, editor writes, owner connects accounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sociallab.db import Tx, load_queries
from sociallab.errors import PermissionDeniedError

Role = Literal["viewer", "editor", "owner"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "owner": 3}
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


async def require_role(tx: Tx, *, user_id: str, workspace_id: str, minimum: Role) -> Role:
    """The caller's role in the workspace, if it is at least `minimum`.

    Raises:
        PermissionDeniedError: not a member, or a lower role.
    """
    row = await tx.fetch_one(QUERIES["member_role"], {"workspace_id": workspace_id, "user_id": user_id})
    if row is None:
        raise PermissionDeniedError("You are not a member of this workspace.")
    role: Role = row["role"]
    if RANK[role] < RANK[minimum]:
        raise PermissionDeniedError(f"This needs the {minimum} role; you are {role}.")
    return role
