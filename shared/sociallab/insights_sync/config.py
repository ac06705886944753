"""The knobs and result counts of an insights-sync run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InsightsConfig:
    """How a run behaves. Defaults suit Cloud Scheduler's hourly tick and Meta's per-account budget.

    Graph calls per account and run (see README "insights-sync"): 1 media list + one per media still
    settling (published in the last 48 h, or never read since it turned 48 h) + one per live story +
    3 account days (today and the two still settling; the day that froze at midnight once more in the day's
    first run; `backfill_days` + 1 on an account's first sync) + 1 audience read a day. Steady state for a
    club posting a few times a day: about 8; the first sync of an account with 30 media: about 40, capped
    by `max_calls_per_account`.
    """

    account_concurrency: int = 25  # accounts synced at once
    media_concurrency: int = 4  # media insights read at once for one account
    batch_size: int = 50  # accounts per claim statement
    run_budget_seconds: float = 300.0  # stop claiming after this (the function's timeout is 540 s)
    lease_seconds: float = 600.0  # longer than one account's sync
    min_interval_seconds: float = 45 * 60.0  # an account is synced at most this often (hourly tick, some slack)
    max_calls_per_account: int = 50  # Graph calls one run makes for an account at most
    max_calls_per_run: int = 20_000  # and for all accounts together
    # Publishing keeps priority: insights stop for an account once Meta's usage for it reaches this
    # (publish-due stops at 90 %), and wait `usage_pause_seconds` (or Meta's regain time) before the next try.
    usage_ceiling_pct: float = 60.0
    usage_pause_seconds: float = 3600.0
    throttle_default_seconds: float = 900.0  # pause when Instagram throttles without a regain time
    media_limit: int = 30  # newest feed media looked at per run
    frozen_limit: int = 200  # frozen media ids the claim hands over per account
    settle_seconds: float = 48 * 3600.0  # Meta's values keep changing this long
    settle_days: int = 3  # UTC days before today looked at: today-1 and today-2 settle, today-3 froze at 00:00
    backfill_days: int = 7  # UTC days before today read on an account's first sync
    audience_days: int = 28  # online_followers history read (Meta keeps 30 days)
    audience_interval_seconds: float = 86_400.0  # online_followers read at most this often

    def __post_init__(self) -> None:
        if min(self.account_concurrency, self.media_concurrency, self.batch_size, self.max_calls_per_account) < 1:
            raise ValueError("concurrency, batch size and the call budget must be at least 1")
        if not 0 < self.usage_ceiling_pct <= 100:
            raise ValueError("usage_ceiling_pct must be within (0, 100]")


@dataclass
class InsightsSyncResult:
    """What a run did, in the style of publish-due's counts. insights-sync's response body as it is."""

    run_id: str
    accounts: int = 0  # accounts claimed
    synced: int = 0  # accounts whose sync completed
    partial: int = 0  # stopped early (per-run call budget, usage ceiling, a transient error): carried on next run
    failed: int = 0  # nothing could be read (Instagram down, an unexpected error); retried next run
    throttled: int = 0  # Instagram throttled the account: paused, as publish-due does
    usage_paused: int = 0  # Meta's usage for the account reached the ceiling: insights wait, publishing not
    reauth: int = 0  # the token turned out dead: the account now needs a reconnect
    skipped_reauth: int = 0  # accounts not touched because they need a reconnect
    skipped_paused: int = 0  # accounts not touched because they are paused
    media: int = 0  # media_insights rows written
    stories: int = 0  # of which live stories
    media_unavailable: int = 0  # media Instagram has not enough data for (error 10): stored without metrics
    account_days: int = 0  # account_insights values changed
    audience_hours: int = 0  # audience_online_hours rows changed
    graph_calls: int = 0
    errors: int = 0
    reauth_accounts: list[str] = field(default_factory=list)
    paused_accounts: list[str] = field(default_factory=list)
