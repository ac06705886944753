"""insights-sync: read what Instagram measured of every connected account, run by Cloud Scheduler hourly.

    result = await insights_sync(db, client)        # -> InsightsSyncResult (counts, like publish-due's)
    result = await run_insights_sync(db)            # with an Instagram client of its own

A run counts the accounts it leaves alone (reconnect needed, paused), then claims due accounts in batches
(oldest sync first, `FOR UPDATE SKIP LOCKED`, a lease each, so overlapping runs divide them) and syncs
`account_concurrency` of them at once, each with at most `media_concurrency` Graph calls in flight:

1. the newest `media_limit` feed media (one call), then the insights of each that is not frozen: values
   settle within 48 h, so a media is read every run until one read happens after its first 48 h, and
   never again; our live stories (24 h) are read too;
2. the account's daily totals for each UTC day still settling (`settle_days` back, `backfill_days` on the
   first sync), one call a day;
3. `online_followers` at most once a day, turned into UTC (weekday, hour) means.

Everything an account's sync read is written in one statement that also releases the account. One account's
failure never stops the others. Budgets: at most `max_calls_per_account` calls per account and
`max_calls_per_run` in all; an account whose Meta usage reaches `usage_ceiling_pct` (below publish-due's
90 %) stops and waits for its window, so publishing keeps the rest; a throttled account is paused as
publish-due pauses it; a dead token marks the account `reauth_required`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from typing import TypeVar

from sociallab.config import Settings, get_settings
from sociallab.crypto import TokenCipher
from sociallab.db import Database
from sociallab.errors import AppError
from sociallab.insights_sync.config import InsightsConfig, InsightsSyncResult
from sociallab.insights_sync.store import AccountReadings, ClaimedAccount, InsightsStore
from sociallab.instagram.accounts import ReauthRequiredError, get_cipher, usable_token
from sociallab.instagram.client import InstagramClient, new_http_client
from sociallab.instagram.errors import (
    InsightsUnavailableError,
    InstagramError,
    PermanentError,
    ThrottledError,
    TokenInvalidError,
)
from sociallab.instagram.insights import STORY_METRICS, InsightsMedia, metrics_for, online_profile
from sociallab.logging import get_logger, log_context

log = get_logger(__name__)
T = TypeVar("T")
STORY_LIFE = timedelta(hours=24)


class _Stop(Exception):
    """This account's sync stops here (budget, usage ceiling, throttled, token dead)."""


@dataclass
class _Run:
    store: InsightsStore
    client: InstagramClient
    cipher: TokenCipher
    config: InsightsConfig
    result: InsightsSyncResult
    now: Callable[[], datetime]


class _AccountSync:
    """One account's reads; every Graph call goes through `_call`, which enforces the budgets."""

    def __init__(self, run: _Run, account: ClaimedAccount, token: str) -> None:
        self.run = run
        self.account = account
        self.token = token
        self.config = run.config
        self.readings = AccountReadings()
        self.gate = asyncio.Semaphore(run.config.media_concurrency)
        self.calls_before = run.client.calls_for(account.ig_user_id)
        self.stopped = False
        self.incomplete = False
        self.succeeded = 0
        self.token_error: TokenInvalidError | None = None
        self.unavailable = 0
        self.stories = 0

    @property
    def calls(self) -> int:
        return self.run.client.calls_for(self.account.ig_user_id) - self.calls_before

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """One read, if the budgets allow it; a throttle or a dead token stops the whole account.

        Raises:
            _Stop: the account's sync is over. InstagramError subclasses other than those.
        """
        async with self.gate:
            if self.stopped or self.calls >= self.config.max_calls_per_account:
                self.incomplete = True
                raise _Stop()
            try:
                value = await make()
            except ThrottledError as exc:
                self._stop(throttle=float(exc.retry_after or self.config.throttle_default_seconds), reason=exc.reason)
                raise _Stop() from None
            except TokenInvalidError as exc:
                self.token_error = exc
                self.stopped = True
                raise _Stop() from None
            self.succeeded += 1
            usage = self.run.client.usage_for(self.account.ig_user_id)
            if usage is not None and usage.max_pct >= self.config.usage_ceiling_pct and not self.stopped:
                # Close to Meta's limit for this account: leave the rest of the window to publishing.
                self.readings.insights_pause_seconds = float(usage.regain_seconds or self.config.usage_pause_seconds)
                self.stopped = self.incomplete = True
            return value

    def _stop(self, *, throttle: float, reason: str) -> None:
        self.stopped = self.incomplete = True
        self.readings.throttle_seconds = throttle
        self.readings.reason = reason

    async def sync(self) -> AccountReadings:
        now = self.run.now()
        jobs: list[Awaitable[None]] = []
        try:
            media = await self._call(
                lambda: self.run.client.insights_media(
                    self.account.ig_user_id, self.token, limit=self.config.media_limit
                )
            )
        except _Stop:
            media = []
        except InstagramError as exc:
            self._note("media list", exc)
            media = []
        listed = {m.id for m in media}
        jobs += [self._media(m) for m in media if m.id not in self.account.frozen_media]
        jobs += [
            self._story(story_id, published)
            for story_id, published in self.account.live_stories
            if story_id not in listed and published > now - STORY_LIFE
        ]
        jobs += [self._day(day, now) for day in self._days(now)]
        if (
            self.account.audience_synced_at is None
            or (now - self.account.audience_synced_at).total_seconds() >= self.config.audience_interval_seconds
        ):
            jobs.append(self._audience(now))
        await asyncio.gather(*jobs)
        self.readings.synced = not self.incomplete and not self.stopped
        usage = self.run.client.usage_for(self.account.ig_user_id)
        self.readings.usage_pct = usage.max_pct if usage is not None else None
        return self.readings

    def _days(self, now: datetime) -> list[date]:
        """The UTC days to read: those still settling (ended less than 48 h ago), and one more read of a day
        that froze since the last complete sync; `backfill_days` back on the first sync."""
        last = self.account.last_synced_at
        back = self.config.backfill_days if last is None else self.config.settle_days
        today = now.astimezone(UTC).date()
        settle = timedelta(seconds=self.config.settle_seconds)
        days = []
        for day in (today - timedelta(days=n) for n in range(back + 1)):
            frozen_at = datetime.combine(day + timedelta(days=1), day_start(), tzinfo=UTC) + settle
            if last is None or now < frozen_at or last < frozen_at:
                days.append(day)
        return days

    def _note(self, what: str, exc: InstagramError) -> None:
        """A read that failed without stopping the account: the run carries on, the sync is incomplete."""
        self.incomplete = True
        log.info("insights read failed", extra={"read": what, "error_class": type(exc).__name__,
                                                 "meta_code": exc.meta_code})  # fmt: skip

    async def _media(self, media: InsightsMedia) -> None:
        client = self.run.client
        try:
            values = await self._call(
                lambda: client.media_insights(
                    media.id, self.token, metrics=metrics_for(media.media_type), ig_user_id=self.account.ig_user_id
                )
            )
        except _Stop:
            return
        except InsightsUnavailableError:
            values = {}  # not enough data yet: stored without metrics (absent, not 0)
            self.unavailable += 1
        except PermanentError as exc:
            # The media is gone or refuses insights (an ad, a media inside an album): nothing to store.
            log.info("media has no insights", extra={"meta_code": exc.meta_code, "meta_subcode": exc.subcode})
            return
        except InstagramError as exc:
            self._note("media insights", exc)
            return
        self.readings.add_media(media.id, media.media_type, media.timestamp, values)

    async def _story(self, story_id: str, published: datetime) -> None:
        client = self.run.client
        try:
            values = await self._call(
                lambda: client.media_insights(
                    story_id, self.token, metrics=STORY_METRICS, ig_user_id=self.account.ig_user_id
                )
            )
        except _Stop:
            return
        except InsightsUnavailableError:
            values = {}
            self.unavailable += 1
        except PermanentError:
            return
        except InstagramError as exc:
            self._note("story insights", exc)
            return
        self.stories += 1
        self.readings.add_media(story_id, "STORY", published, values)

    async def _day(self, day: date, now: datetime) -> None:
        since = datetime.combine(day, day_start(), tzinfo=UTC)
        until = min(since + timedelta(days=1), now)
        if until <= since:
            return
        client = self.run.client
        try:
            values = await self._call(
                lambda: client.account_insights(self.account.ig_user_id, self.token, since=since, until=until)
            )
        except (_Stop, InsightsUnavailableError):
            return
        except InstagramError as exc:
            self._note("account insights", exc)
            return
        self.readings.days += [
            {"metric": name, "day": day.isoformat(), "value": value} for name, value in values.items()
        ]

    async def _audience(self, now: datetime) -> None:
        client = self.run.client
        since = now - timedelta(days=self.config.audience_days)
        try:
            hours = await self._call(
                lambda: client.online_followers(self.account.ig_user_id, self.token, since=since, until=now)
            )
        except _Stop:
            return
        except InsightsUnavailableError:
            hours = []
        except InstagramError as exc:
            self._note("online followers", exc)
            return
        self.readings.audience = online_profile(hours)


async def _sync_account(run: _Run, account: ClaimedAccount, gate: asyncio.Semaphore) -> None:
    """One account, start to finish; never raises an Exception (a failure is counted and logged)."""
    result = run.result
    async with gate:
        with log_context(instagram_account_id=account.id):
            try:
                try:
                    token = usable_token(account.token_row, cipher=run.cipher, now=run.now())
                except ReauthRequiredError as exc:
                    await run.store.reauth(account, exc.message)
                    result.reauth += 1
                    result.reauth_accounts.append(account.id)
                    return
                sync = _AccountSync(run, account, token)
                readings = await sync.sync()
                result.graph_calls += sync.calls
                if sync.token_error is not None:
                    await run.store.reauth(account, sync.token_error.reason)
                    result.reauth += 1
                    result.reauth_accounts.append(account.id)
                    return
                saved = await run.store.save(account, readings)
            except Exception:
                # The database went away, or a bug: the lease runs out and a later run tries again.
                log.exception("insights sync of an account stopped")
                result.errors += 1
                result.failed += 1
                return
            result.media += saved.media
            result.account_days += saved.days
            result.audience_hours += saved.audience_hours
            result.media_unavailable += sync.unavailable
            result.stories += sync.stories
            if readings.throttle_seconds is not None:
                result.throttled += 1
                result.paused_accounts.append(account.id)
            elif readings.insights_pause_seconds is not None:
                result.usage_paused += 1
                result.paused_accounts.append(account.id)
            if readings.synced:
                result.synced += 1
            elif sync.succeeded:
                result.partial += 1
            else:
                result.failed += 1


async def insights_sync(
    db: Database,
    client: InstagramClient,
    *,
    settings: Settings | None = None,
    config: InsightsConfig | None = None,
    clock: Callable[[], datetime | None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    run_id: str | None = None,
) -> InsightsSyncResult:
    """Claim due accounts and sync their insights until none is left or a budget is spent.

    `clock` fixes "now" (for the database and for the days and windows read); None: the real clock.
    Per-account failures are counted, never raised.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is missing or malformed.
        DependencyUnavailableError: the database is unreachable when counting or claiming.
    """
    config = config or InsightsConfig()
    store = InsightsStore(db, run_id=run_id, lease_seconds=config.lease_seconds, clock=clock)
    result = InsightsSyncResult(run_id=store.run_id)
    run = _Run(
        store=store,
        client=client,
        cipher=get_cipher(settings or get_settings()),
        config=config,
        result=result,
        now=lambda: (clock() if clock else None) or datetime.now(UTC),
    )
    deadline = monotonic() + config.run_budget_seconds
    gate = asyncio.Semaphore(config.account_concurrency)
    with log_context(run_id=store.run_id):
        result.skipped_reauth, result.skipped_paused = await store.skipped()
        while monotonic() < deadline:
            room = (config.max_calls_per_run - result.graph_calls) // config.max_calls_per_account
            limit = min(config.batch_size, room)
            if limit < 1:
                break
            try:
                claimed = await store.claim(
                    limit, min_interval_seconds=config.min_interval_seconds, frozen_limit=config.frozen_limit
                )
            except AppError:
                if not result.accounts:
                    raise
                log.exception("claiming failed; the rest waits for the next run")
                result.errors += 1
                break
            result.accounts += len(claimed)
            await asyncio.gather(*(_sync_account(run, account, gate) for account in claimed))
            if len(claimed) < limit:
                break
    log.info("insights-sync run finished", extra={"result": asdict(result)})
    return result


async def run_insights_sync(
    db: Database, *, settings: Settings | None = None, config: InsightsConfig | None = None
) -> InsightsSyncResult:
    """One scheduled run (`insights_sync`) with an Instagram client that lives as long as the run.

    Raises:
        ConfigurationError, DependencyUnavailableError: as `insights_sync`.
    """
    settings = settings or get_settings()
    config = config or InsightsConfig()
    # Loaded by the run that calls Instagram, not at cold start (it brings httpx).
    from sociallab.insights_sync.transport import LanedTransport

    transport = LanedTransport(lanes=config.account_concurrency, connections_per_lane=config.media_concurrency)
    async with new_http_client(transport=transport) as http:
        client = InstagramClient.from_settings(settings, http)
        return await insights_sync(db, client, settings=settings, config=config)
