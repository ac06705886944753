"""Meta's rate-limit headers, parsed into one usage figure per account.

Every Graph API response may carry:

- ``X-App-Usage``: ``{"call_count": 28, "total_time": 25, "total_cputime": 25}`` (percent of the app's budget);
- ``X-Business-Use-Case-Usage``: ``{"<id>": [{"type": "instagram", "call_count": 96, "total_cputime": 3,
  "total_time": 4, "estimated_time_to_regain_access": 12}]}`` (percent per business/account; the regain time is
  in minutes).

`parse_usage` folds both into one `Usage`: the highest percentage of each kind wins, because whichever budget
runs out first is the one that throttles us.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APP_USAGE_HEADER = "x-app-usage"
BUC_USAGE_HEADER = "x-business-use-case-usage"
THROTTLE_PCT = 90.0


@dataclass(frozen=True)
class Usage:
    """How much of Meta's budget an account (and the app) has used, in percent."""

    call_count_pct: float
    cpu_pct: float
    time_pct: float
    regain_seconds: int | None = None

    @property
    def max_pct(self) -> float:
        """The highest of the three percentages: the budget closest to running out."""
        return max(self.call_count_pct, self.cpu_pct, self.time_pct)

    @property
    def throttled(self) -> bool:
        """True at or above 90 %: stop calling for this account until the budget recovers."""
        return self.max_pct >= THROTTLE_PCT or bool(self.regain_seconds)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _header(headers: Mapping[str, str] | Any, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None:
        value = getter(name.title()) or getter(name.upper())
    return value if isinstance(value, str) else None


def _load(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_usage(headers: Mapping[str, str] | Any, account_id: str | None = None) -> Usage | None:
    """The usage figure carried by `headers`, or None when neither header is present (or both are garbage).

    `account_id` narrows the business-use-case header to that id when it is present there; otherwise every
    entry counts. Never raises: malformed headers are ignored.
    """
    entries: list[Mapping[str, Any]] = []
    app = _load(_header(headers, APP_USAGE_HEADER))
    if isinstance(app, Mapping):
        entries.append(app)
    buc = _load(_header(headers, BUC_USAGE_HEADER))
    if isinstance(buc, Mapping):
        keys = [account_id] if account_id is not None and account_id in buc else list(buc)
        for key in keys:
            value = buc.get(key)
            if isinstance(value, list):
                entries.extend(item for item in value if isinstance(item, Mapping))
            elif isinstance(value, Mapping):
                entries.append(value)
    if not entries:
        return None
    regain = max((_number(e.get("estimated_time_to_regain_access")) for e in entries), default=0.0)
    return Usage(
        call_count_pct=max(_number(e.get("call_count")) for e in entries),
        cpu_pct=max(_number(e.get("total_cputime")) for e in entries),
        time_pct=max(_number(e.get("total_time")) for e in entries),
        regain_seconds=int(regain * 60) if regain > 0 else None,
    )
