"""insights-sync: fill `account_insights`, `media_insights` and `audience_online_hours` from Instagram.

    result = await insights_sync(db, client)        # one run -> InsightsSyncResult
    result = await run_insights_sync(db)            # the same, with its own Instagram client

Modules: `run` (the run and one account's reads), `store` (+ `store.sql`: every statement),
`config` (knobs and the result: insights-sync's response body).
"""

from __future__ import annotations

from sociallab.insights_sync.config import InsightsConfig, InsightsSyncResult
from sociallab.insights_sync.run import insights_sync, run_insights_sync

__all__ = ["InsightsConfig", "InsightsSyncResult", "insights_sync", "run_insights_sync"]
