"""The local environment of `make run`: what is not configured gets a local stand-in.

Every variable that is set is used as given. What is left unset and needed gets a dev value:
generated secrets (kept in `.data/dev-secrets.json` so tokens survive restarts) and an embedded
PostgreSQL under `.data/pg` when `DATABASE_URL` is unset.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

DEV_ISSUER = "sociallab-dev"

_GENERATED = {
    "SUPABASE_JWT_SECRET": lambda: secrets.token_urlsafe(48),
    "TOKEN_ENCRYPTION_KEY": lambda: "dev1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "URL_SIGNING_KEY": lambda: secrets.token_urlsafe(32),
    "SCHEDULER_SECRET": lambda: secrets.token_urlsafe(32),
    "WEBHOOK_SECRET": lambda: secrets.token_urlsafe(32),
    # For the Instagram sandbox (only when no real Instagram app is configured):
    "INSTAGRAM_APP_SECRET": lambda: secrets.token_hex(16),
    "INSTAGRAM_DEMO_TOKEN": lambda: "IGAAsandbox" + secrets.token_urlsafe(40),
}
_ONLY_WITHOUT = {
    "SUPABASE_JWT_SECRET": "SUPABASE_URL",
    "INSTAGRAM_APP_SECRET": "INSTAGRAM_APP_ID",
    "INSTAGRAM_DEMO_TOKEN": "INSTAGRAM_APP_ID",
}


def ensure_dev_secrets(data_dir: Path) -> list[str]:
    """Set every unset secret from `.data/dev-secrets.json`, generating what is missing there.

    Returns the names that now hold dev values. A real SUPABASE_URL without a JWT secret means
    tokens come from that project (JWKS), so no dev JWT secret is made then; likewise a real
    Instagram app gets no sandbox secrets.
    """
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    used = []
    for name, generate in _GENERATED.items():
        if os.environ.get(name):
            continue
        if name in _ONLY_WITHOUT and os.environ.get(_ONLY_WITHOUT[name]):
            continue
        stored.setdefault(name, generate())
        os.environ[name] = stored[name]
        used.append(name)
    if "SUPABASE_JWT_SECRET" in used and not os.environ.get("JWT_ISSUER"):
        os.environ["JWT_ISSUER"] = DEV_ISSUER
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return used


def ensure_database(data_dir: Path) -> Any | None:
    """Start the embedded PostgreSQL when DATABASE_URL is unset; returns the server handle (or None).

    The server keeps its data in `.data/pg`, so a second `make run` finds the same rows, and it is
    stopped when this process exits.
    """
    if os.environ.get("DATABASE_URL"):
        return None
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver

    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    os.environ["DATABASE_URL"] = server.get_uri()
    return server
