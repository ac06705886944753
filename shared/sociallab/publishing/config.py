"""The knobs, test hooks and result counts of a publish-due run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sociallab.publishing.store import ClaimedPost

# The moments a run can be interrupted at, in protocol order (DESIGN.md §4).
Step = Literal[
    "claimed",  # the post is ours (lease taken), nothing called yet
    "container_created",  # Instagram created the container; its id is not saved yet
    "container_saved",  # the container id is in the database
    "container_finished",  # the container reads FINISHED; media_publish not called yet
    "published",  # media_publish answered with the media id; not recorded yet
    "recorded",  # the post is `published` in the database
]


@dataclass(frozen=True)
class PublisherConfig:
    """How a run behaves. Defaults suit Cloud Scheduler's one-minute tick; tests shrink the waits."""

    concurrency: int = 25  # posts worked on at once by one run (a post waiting for its time takes no slot)
    batch_size: int = 50  # accounts claimed per claim statement
    max_accounts: int = 500  # accounts one run holds at once (the others are left to overlapping runs)
    lease_seconds: float = 300.0  # longer than a wait for the post's time plus the work on it
    run_budget_seconds: float = 45.0  # stop claiming after this; the run ends when its posts are done
    # On time: a run also takes the posts due within `lookahead_seconds` (the scheduler's tick), starts
    # their container `prepare_seconds` before their time and publishes each at its time, never before.
    # While it has posts in hand it looks for newly due ones every `claim_interval_seconds`.
    lookahead_seconds: float = 60.0
    prepare_seconds: float = 10.0
    claim_interval_seconds: float = 5.0
    max_attempts: int = 5  # failures of the post itself and interrupted runs; also capped by the post's own
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    backoff_floor_seconds: float = 5.0
    # Through outages: a transient failure (Instagram 5xx, timeouts, a dependency down) is retried with
    # backoff (at most `transient_backoff_cap_seconds` apart) until `retry_window_seconds` after the post's
    # time, without using an attempt; then the post fails saying so, and the workspace is notified.
    retry_window_seconds: float = 7200.0
    transient_backoff_cap_seconds: float = 600.0
    poll_initial_delay: float = 1.0  # wait after creating a container before the first status read
    poll_interval: float = 1.0
    poll_timeout: float = 10.0  # then release the post rather than block the run
    not_ready_retry_seconds: float = 30.0
    throttle_default_seconds: float = 900.0  # pause when Instagram gives no regain time
    quota_fallback_seconds: float = 3600.0
    # Read content_publishing_limit only once our own 24 h count for the account reaches this (0: before
    # every first container of an account in a run). Below it the quota (100 / 24 h) can only be reached
    # by posting from elsewhere, and then media_publish answers 9/2207042, which reschedules the post too.
    quota_check_threshold: int = 25
    image_url_seconds: int = 6 * 3600  # signed Storage URLs Instagram downloads (>= 1 h)
    fetch_permalink: bool = True
    # Finding the media a lost publish became (its container reads PUBLISHED): one read of the account's
    # latest media, matched by the caption we sent and a time not before the container's creation minus
    # `media_match_skew_seconds` (clocks differ). Not found -> a later run's backfill looks again: up to
    # `backfill_batch` such posts per run, published within `backfill_window_seconds`, each looked up
    # again after backfill_retry_base_seconds * 2^(lookups so far), at most backfill_retry_cap_seconds.
    media_lookup_limit: int = 25
    media_match_skew_seconds: float = 300.0
    backfill_batch: int = 20
    backfill_window_seconds: float = 86_400.0
    backfill_retry_base_seconds: float = 60.0
    backfill_retry_cap_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1 or self.max_attempts < 1 or self.max_accounts < 1:
            raise ValueError("concurrency, batch_size, max_accounts and max_attempts must be at least 1")
        if self.lease_seconds <= self.lookahead_seconds + self.poll_timeout:
            raise ValueError("a lease must outlast the wait for a post's time and the work on it")
        if self.image_url_seconds < 3600:
            raise ValueError("image URLs must stay valid for at least an hour")


class PublishHooks:
    """Called at every step of every post (see `Step`). The default does nothing.

    Tests subclass it and raise at a step to simulate a crash there: an exception that is not an
    `Exception` (e.g. a `BaseException` subclass) is never caught by the publisher, so the run dies
    exactly as a killed process would, leaving the database as it was at that moment.
    """

    async def at(self, step: Step, post: ClaimedPost) -> None:
        return None


@dataclass
class PublishResult:
    """What a run did: the counts API.md promises (`claimed, published, retried, failed`) and the other
    outcomes. publish-due's response body as it is, every field always (the defaults are a run's start)."""

    run_id: str
    enabled: bool = True
    claimed: int = 0
    published: int = 0
    retried: int = 0  # transient error or container not ready: due again after a backoff
    failed: int = 0
    rescheduled: int = 0  # publishing quota reached: due again when the 24 h window frees
    rate_limited: int = 0  # posts given back because their account is paused
    parked: int = 0  # posts failed with reason reauth_required (the in-flight one and the waiting ones)
    lost_lease: int = 0  # another run took the post over; this run wrote nothing more
    errors: int = 0  # unexpected failures; the lease runs out and a later run retries
    media_recovered: int = 0  # lost publishes whose media id was found at once
    media_backfilled: int = 0  # published posts without a media id that a run's backfill completed
    accounts: int = 0
    paused_accounts: list[str] = field(default_factory=list)
    reauth_accounts: list[str] = field(default_factory=list)
