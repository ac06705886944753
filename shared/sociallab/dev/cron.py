"""A local stand-in for Cloud Scheduler: POSTs `{}` to each scheduled function on its cadence.

Calls go over real HTTP to the dev server with the scheduler secret, exactly as Cloud Scheduler
calls the deployed functions. A cadence of 60 s fires at the start of every minute. A job with
`first_after_seconds` also fires once that long after start (an hourly job the demo needs data from).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from sociallab.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Job:
    function: str
    every_seconds: int
    path: str = "/"
    first_after_seconds: float | None = None


def next_run(now: float, every_seconds: int) -> float:
    """The next multiple of `every_seconds` after `now` (epoch seconds)."""
    return (now // every_seconds + 1) * every_seconds


def first_run(start: float, job: Job) -> float:
    """When the job first fires: `first_after_seconds` after `start`, else its cadence's next boundary."""
    if job.first_after_seconds is not None:
        return start + job.first_after_seconds
    return next_run(start, job.every_seconds)


async def run_job(client: httpx.AsyncClient, job: Job, secret: str) -> int:
    """Call the job's function once; returns the HTTP status (0 when it could not be reached)."""
    try:
        url = f"/{job.function}/{job.path.lstrip('/')}"
        response = await client.post(url, json={}, headers={"Authorization": f"Bearer {secret}"})
    except httpx.HTTPError as exc:
        log.warning("cron call failed", extra={"job": job.function, "error": type(exc).__name__})
        return 0
    log.info(
        "cron",
        extra={"job": job.function, "path": job.path, "status": response.status_code, "result": response.text[:500]},
    )
    return response.status_code


async def run_forever(base_url: str, jobs: list[Job], secret: str) -> None:
    """Fire every job on its cadence until cancelled."""
    if not jobs:
        return
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(600.0)) as client:
        start = time.time()
        due = {job: first_run(start, job) for job in jobs}
        running: set[asyncio.Task[int]] = set()
        while True:
            job = min(due, key=due.__getitem__)
            await asyncio.sleep(max(0.0, due[job] - time.time()))
            due[job] = next_run(time.time(), job.every_seconds)
            # Like Cloud Scheduler, a slow run does not hold back the next tick.
            task = asyncio.create_task(run_job(client, job, secret))
            running.add(task)
            task.add_done_callback(running.discard)
