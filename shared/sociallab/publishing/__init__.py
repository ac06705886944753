"""Publishing: every due post goes out to Instagram exactly once (DESIGN.md §4).

    result = await publish_due(db, client, storage=storage)     # one run -> PublishResult
    result = await run_publish_due(db, storage)                 # the same, with its own Instagram client

The only public entry of the package. Inside, one module per job:

- `run`: the run loop (claim accounts, work on several at once, stop at the run's budget);
- `protocol`: one post through the publishing protocol;
- `failures`: what each failure does to a post and its account (with `backoff`, the retry delays);
- `media`: finding the media of a publish whose answer was lost, the permalink and first comment;
- `evidence`: before an edit drops a failed post's container, whether that container went out;
- `store` (+ `store.sql`): every statement the run sends to the database;
- `config` (knobs, test hooks, the result: publish-due's response body) and `context` (what the
  steps of one run share).
"""

from __future__ import annotations

from sociallab.publishing.config import PublisherConfig, PublishHooks, PublishResult, Step
from sociallab.publishing.evidence import AlreadyPublishedError, settle_old_container
from sociallab.publishing.run import publish_due, run_publish_due
from sociallab.publishing.store import ClaimedPost

__all__ = [
    "AlreadyPublishedError",
    "ClaimedPost",
    "PublishHooks",
    "PublishResult",
    "PublisherConfig",
    "Step",
    "publish_due",
    "run_publish_due",
    "settle_old_container",
]
