"""An HTTP transport made of several small connection pools ("lanes").

httpcore's pool scans all its connections (and checks each socket) whenever a request starts or ends, and
may hand one idle connection to several queued requests, which then retry: with 100 connections in one pool
that cost grows with the square of the calls in flight and made insights-sync CPU-bound (bench insights).
Lanes of a few connections each keep every scan short; a request takes the lane with the fewest in flight.
"""

from __future__ import annotations

import ssl

import httpx


class LanedTransport(httpx.AsyncBaseTransport):
    """`lanes` pools of `connections_per_lane` connections each, sharing one TLS context."""

    def __init__(self, *, lanes: int, connections_per_lane: int, verify: ssl.SSLContext | None = None) -> None:
        if min(lanes, connections_per_lane) < 1:
            raise ValueError("lanes and connections per lane must be at least 1")
        context = verify or httpx.create_ssl_context()
        limits = httpx.Limits(max_connections=connections_per_lane, max_keepalive_connections=connections_per_lane)
        self._lanes = [httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(lanes)]
        self._in_flight = [0] * lanes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = min(range(len(self._lanes)), key=self._in_flight.__getitem__)
        self._in_flight[lane] += 1
        try:
            return await self._lanes[lane].handle_async_request(request)
        finally:
            self._in_flight[lane] -= 1

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()


__all__ = ["LanedTransport"]
