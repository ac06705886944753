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

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from sociallab.config import reset_settings
from sociallab.instagram.sandbox import InstagramSandbox

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


class _Dispatch:
    """The served ASGI app; tests swap `app` for a fresh sandbox's."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no Instagram sandbox is active"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def instagram_server() -> Iterator[tuple[str, _Dispatch]]:
    """(base_url, dispatch) of the session's sandbox server."""
    dispatch = _Dispatch()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    config = uvicorn.Config(dispatch, log_level="critical", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", dispatch
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def make_instagram_sandbox(
    instagram_server: tuple[str, _Dispatch], monkeypatch: pytest.MonkeyPatch
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
