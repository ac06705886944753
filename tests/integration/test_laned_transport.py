"""LanedTransport (insights-sync's HTTP transport) against a real local HTTP server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from sociallab.insights_sync.transport import LanedTransport
from tests.servers import serve


class Gathering:
    """Answers with the client's port once `expected` requests are waiting (each needs a connection of its own)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.waiting = 0
        self.ports: list[int] = []
        self.all_in: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.all_in = self.all_in or asyncio.Event()
        self.ports.append(scope["client"][1])
        self.waiting += 1
        if self.waiting >= self.expected:
            self.all_in.set()
        await self.all_in.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(scope["client"][1]).encode()})


async def _get_all(base_url: str, transport: LanedTransport, count: int) -> list[Any]:
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30) as client:
        return await asyncio.gather(*(client.get(f"/{n}") for n in range(count)))


def test_requests_in_flight_spread_over_every_lane_connection() -> None:
    app = Gathering(expected=8)
    with serve(app) as base_url:
        responses = asyncio.run(_get_all(base_url, LanedTransport(lanes=4, connections_per_lane=2), 8))
    assert [r.status_code for r in responses] == [200] * 8
    assert len(set(app.ports)) == 8


def test_requests_one_after_another_reuse_one_connection() -> None:
    app = Gathering(expected=1)

    async def one_by_one(base_url: str) -> list[str]:
        transport = LanedTransport(lanes=4, connections_per_lane=2)
        async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30) as client:
            return [(await client.get(f"/{n}")).text for n in range(3)]

    with serve(app) as base_url:
        bodies = asyncio.run(one_by_one(base_url))
    assert len(set(bodies)) == 1


@pytest.mark.parametrize(("lanes", "per_lane"), [(0, 4), (4, 0)])
def test_no_lanes_or_connections_is_refused(lanes: int, per_lane: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LanedTransport(lanes=lanes, connections_per_lane=per_lane)
