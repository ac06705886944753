"""Serving a fake of an external API (an ASGI app) over real HTTP on 127.0.0.1, for the tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send


class Swappable:
    """An ASGI app whose target a test replaces (a fresh fake per test on one session server)."""

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no fake is being served"
        await self.app(scope, receive, send)


@contextmanager
def serve(app: Any, *, log_level: str = "critical") -> Iterator[str]:
    """Serve `app` with uvicorn in a thread; yields its base URL.

    The socket listens before the thread starts, so requests can be made at once (no waiting).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
