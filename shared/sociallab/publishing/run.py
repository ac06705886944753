"""publish-due: publish every due post exactly once (DESIGN.md §4), run by Cloud Scheduler every minute.

    result = await publish_due(db, client, storage=storage)     # -> PublishResult (API.md counts)
    result = await run_publish_due(db, storage)                 # with an Instagram client of its own

A run claims accounts with a post due now or within its tick (`lookahead_seconds`; one post in flight
per account, `FOR UPDATE SKIP LOCKED`, a lease per account and per post), works on each account's
posts one after another, each at its time: the container is made `prepare_seconds` before it and the
publish waits for it, so a post goes out seconds after its time rather than up to a tick later. At most
`concurrency` posts are worked on at once (waiting for a time takes no slot). While it has posts in hand
the run looks for newly due ones every `claim_interval_seconds`, until `run_budget_seconds`; then it
finishes what it holds. Any number of runs may go at once (overlapping ticks, several instances):
they divide the accounts between them. A run that dies leaves leases that expire; the next run takes
those posts up where they stopped (see `protocol` for why that never publishes a post twice). When
claiming fails (the database hiccups), the run stops claiming and still finishes the posts it holds.

`PUBLISHING_ENABLED=false` makes a run claim nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta

from sociallab.config import Settings, get_settings
from sociallab.db import Database
from sociallab.errors import AppError
from sociallab.instagram.accounts import get_cipher
from sociallab.instagram.client import InstagramClient, new_http_client
from sociallab.logging import get_logger, log_context
from sociallab.publishing.config import PublisherConfig, PublishHooks, PublishResult
from sociallab.publishing.context import Outcome, RunContext
from sociallab.publishing.failures import pause
from sociallab.publishing.media import backfill_media
from sociallab.publishing.protocol import process_post
from sociallab.publishing.store import ClaimedPost, PublisherStore
from sociallab.storage import Storage

log = get_logger(__name__)


async def publish_due(
    db: Database,
    client: InstagramClient,
    *,
    storage: Storage,
    settings: Settings | None = None,
    config: PublisherConfig | None = None,
    hooks: PublishHooks | None = None,
    clock: Callable[[], datetime | None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    run_id: str | None = None,
) -> PublishResult:
    """Claim and publish due posts until none is left or the run's time budget is spent.

    `clock` fixes "now" for the database (None: the database's own clock); `sleep` is the wait between
    container status reads; `monotonic` measures the run budget. Per-post failures are recorded on the
    posts and counted, never raised.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY (or a storage setting) is missing or malformed.
        DependencyUnavailableError: the database is unreachable when claiming.
        BaseException: whatever a hook raises that is not an `Exception` (crash simulation) ends the run.
    """
    settings = settings or get_settings()
    config = config or PublisherConfig()
    store = PublisherStore(
        db, run_id=run_id, lease_seconds=config.lease_seconds, lookahead_seconds=config.lookahead_seconds, clock=clock
    )
    result = PublishResult(run_id=store.run_id)
    if not settings.publishing_enabled:
        log.info("publishing is disabled (PUBLISHING_ENABLED=false); nothing claimed")
        result.enabled = False
        return result
    ctx = RunContext(
        store=store,
        client=client,
        storage=storage,
        cipher=get_cipher(settings),
        config=config,
        hooks=hooks or PublishHooks(),
        result=result,
        sleep=sleep,
        rng=rng or random.Random(),  # retry jitter, not cryptography
        clock=clock or (lambda: None),
    )
    deadline = monotonic() + config.run_budget_seconds
    with log_context(run_id=store.run_id):
        # Posts whose publish answer was lost and whose media id is still unknown (usually none: one
        # cheap statement), then the due posts.
        await backfill_media(ctx)
        await _drain(ctx, deadline, monotonic)
    log.info("publish-due run finished", extra={"result": asdict(result)})
    return result


async def _drain(ctx: RunContext, deadline: float, monotonic: Callable[[], float]) -> None:
    """Claim accounts with due posts and work on them; look again while posts are in hand, until the
    budget is spent; then let the workers finish."""
    gate = asyncio.Semaphore(ctx.config.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    claiming = True
    try:
        while True:
            room = ctx.config.max_accounts - len(tasks)
            if claiming and room > 0 and monotonic() < deadline:
                try:
                    claimed = await ctx.store.claim(min(room, ctx.config.batch_size))
                except AppError:
                    # The accounts in hand are still this run's to finish; what is left waits for the next run.
                    log.exception("claiming failed; finishing the posts in hand")
                    ctx.result.errors += 1
                    claimed, claiming = [], False
                ctx.result.claimed += len(claimed)
                ctx.result.accounts += len(claimed)
                for post in claimed:
                    tasks.add(asyncio.create_task(_work_account(ctx, post, gate, deadline, monotonic)))
                if len(claimed) == min(room, ctx.config.batch_size):
                    continue  # a full batch: more may be due right now
                claiming = claiming and bool(tasks)  # nothing in hand and nothing due: the run is done
            if not tasks:
                return
            looking = claiming and monotonic() < deadline
            done, tasks = await asyncio.wait(
                tasks,
                timeout=ctx.config.claim_interval_seconds if looking else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            # Workers never raise an Exception; anything they do raise is a crash (a BaseException
            # from a hook) and ends the run here, like a killed process.
            crashes = [exc for exc in (task.exception() for task in done) if exc is not None]
            if crashes:
                raise crashes[0]
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def _work_account(
    ctx: RunContext,
    post: ClaimedPost,
    gate: asyncio.Semaphore,
    deadline: float,
    monotonic: Callable[[], float],
) -> None:
    """One account's due posts, one after another, each at its time, while this run holds the account."""
    current: ClaimedPost | None = post
    account_id = post.account_id
    try:
        while current is not None:
            claimed_at = monotonic()
            await ctx.wait_until(current.due_at - timedelta(seconds=ctx.config.prepare_seconds))
            async with gate:
                if monotonic() - claimed_at > ctx.config.lease_seconds / 3 and not await ctx.store.confirm_lease(
                    current
                ):
                    # It waited so long (a backlog) that its lease may have run out: another run has it now.
                    ctx.result.lost_lease += 1
                    return
                outcome = await process_post(ctx, current)
            if outcome.stops_account:
                if outcome in (Outcome.LOST, Outcome.ERROR):
                    await ctx.store.release_account(account_id)
                return
            usage = ctx.client.usage_for(current.ig_user_id)
            if usage is not None and usage.throttled:
                # Close to Meta's budget: stop before Instagram throttles us (DESIGN.md §5).
                await pause(ctx, account_id, None, usage.regain_seconds, "Instagram usage reached 90 %.", None,
                            usage.max_pct)  # fmt: skip
                return
            if monotonic() >= deadline + ctx.config.lookahead_seconds:
                # Past the budget the run takes no new accounts, but keeps taking its accounts' posts of the
                # coming tick: the next run cannot (the account is this run's), so letting go would make them late.
                await ctx.store.release_account(account_id)
                return
            current = await ctx.store.claim_next(account_id)
            if current is not None:
                ctx.result.claimed += 1
    except Exception:
        # The database went away between posts: the account's lease runs out, a later run carries on.
        log.exception("account worker stopped", extra={"instagram_account_id": account_id})
        ctx.result.errors += 1


async def run_publish_due(
    db: Database, storage: Storage, *, settings: Settings | None = None, config: PublisherConfig | None = None
) -> PublishResult:
    """One scheduled run (`publish_due`) with an Instagram client that lives as long as the run.

    Raises:
        ConfigurationError, DependencyUnavailableError: as `publish_due`.
    """
    settings = settings or get_settings()
    config = config or PublisherConfig(retry_window_seconds=settings.publish_retry_window_seconds)
    async with new_http_client() as http:
        client = InstagramClient.from_settings(settings, http)
        return await publish_due(db, client, storage=storage, settings=settings, config=config)
