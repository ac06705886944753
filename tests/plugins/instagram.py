"""Fixtures of the Instagram Graph API sandbox, for every area that talks to Instagram.

- `instagram_server`: one uvicorn server per session on 127.0.0.1:<free port> (the socket listens before
  the thread starts, so no waiting); each test swaps a fresh sandbox in.
- `make_instagram_sandbox(**kwargs)`: a fresh `InstagramSandbox(**kwargs)` served there -> (sandbox, base_url);
  INSTAGRAM_GRAPH_URL / INSTAGRAM_OAUTH_URL / INSTAGRAM_AUTHORIZE_URL / INSTAGRAM_APP_ID / INSTAGRAM_APP_SECRET
  point at it (settings reset).
- `instagram_sandbox`: the same with containers ready at once and the real clock -> (sandbox, base_url).
- `ManualClock`: an injectable clock (`clock.advance(seconds)`) for tests that move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sociallab.config import reset_settings
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from tests.servers import Swappable, serve

SANDBOX_APP_ID = "sandbox-app-id"
SANDBOX_APP_SECRET = "sandbox-app-secret-0123456789abcdef"


class ManualClock:
    """A clock that only moves when told to (seconds since the epoch, like time.time)."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def instagram_server() -> Iterator[tuple[str, Swappable]]:
    """(base_url, dispatch) of the session's sandbox server."""
    dispatch = Swappable()
    with serve(dispatch) as base_url:
        yield base_url, dispatch


@pytest.fixture
def make_instagram_sandbox(
    instagram_server: tuple[str, Swappable], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[InstagramSandbox, str]]]:
    """Serve a fresh `InstagramSandbox(**kwargs)` and point the Instagram settings at it."""
    base_url, dispatch = instagram_server

    def make(**kwargs: Any) -> tuple[InstagramSandbox, str]:
        kwargs.setdefault("app_id", SANDBOX_APP_ID)
        kwargs.setdefault("app_secret", SANDBOX_APP_SECRET)
        sandbox = InstagramSandbox(**kwargs)
        dispatch.app = sandbox.app
        monkeypatch.setenv("INSTAGRAM_GRAPH_URL", base_url)
        monkeypatch.setenv("INSTAGRAM_OAUTH_URL", base_url)
        monkeypatch.setenv("INSTAGRAM_AUTHORIZE_URL", f"{base_url}/oauth/authorize")
        monkeypatch.setenv("INSTAGRAM_APP_ID", SANDBOX_APP_ID)
        monkeypatch.setenv("INSTAGRAM_APP_SECRET", SANDBOX_APP_SECRET)
        reset_settings()
        return sandbox, base_url

    yield make
    dispatch.app = None


@pytest.fixture
def instagram_sandbox(
    make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]],
) -> tuple[InstagramSandbox, str]:
    """A fresh sandbox (containers FINISHED at once, real clock) -> (sandbox, base_url)."""
    return make_instagram_sandbox(container_ready_after=0.0)
