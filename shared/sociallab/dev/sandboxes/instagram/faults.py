"""Fault switches of the Instagram sandbox: make chosen calls fail the way Meta's API fails.

A `Fault` matches calls by endpoint kind (create, status, publish, limit, comment, permalink, media_list,
token, me, account_insights, audience, media_insights or any) and optionally by account, fires with a
probability and/or a limited number of times, and does one of:

- ``error``: answer Meta's error payload (``code``, ``subcode``, ``http_status``; HTTP 500 with no body when
  ``code`` is None and the status is 5xx);
- ``timeout``: hang ``hang`` seconds (longer than the client's timeout) before answering;
- ``slow``: wait ``delay`` seconds, then behave normally;
- ``drop``: close the connection mid-response.

With ``after=True`` the call's effect happens first and only then the fault hits the response ("publish
applied, then the connection dropped" is ``Fault(kind="publish", action="drop", after=True)``).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal[
    "create", "status", "publish", "limit", "comment", "permalink", "media_list", "token", "me",
    "account_insights", "audience", "media_insights", "any",
]  # fmt: skip
Action = Literal["error", "timeout", "slow", "drop"]
KINDS = ("create", "status", "publish", "limit", "comment", "permalink", "media_list", "token", "me",
         "account_insights", "audience", "media_insights", "any")  # fmt: skip
ACTIONS = ("error", "timeout", "slow", "drop")


@dataclass
class Fault:
    """One switch; see the module docstring."""

    kind: Kind = "any"
    action: Action = "error"
    code: int | None = -1
    subcode: int | None = None
    http_status: int = 500
    message: str | None = None
    is_transient: bool | None = None
    probability: float = 1.0
    count: int | None = None  # fire at most this many times (None: forever)
    ig_user_id: str | None = None
    after: bool = False
    hang: float = 30.0
    delay: float = 1.0
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {', '.join(ACTIONS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")

    def matches(self, kind: str, ig_user_id: str | None) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.kind != "any" and self.kind != kind:
            return False
        return self.ig_user_id is None or self.ig_user_id == ig_user_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """The active faults; the first matching one that fires wins. Safe to change from another thread."""

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # fault injection, not cryptography

    def add(self, fault: Fault | None = None, /, **spec: Any) -> Fault:
        """Activate `fault` (or one built from keyword arguments) and return it (its `fired` counts hits).

        Raises:
            ValueError: an unknown kind or action, or a probability outside 0..1.
        """
        fault = fault or Fault(**spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, kind: str, ig_user_id: str | None, *, after: bool) -> Fault | None:
        """The fault that hits this call at this moment (before or after its effect), counting it as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.after != after or not fault.matches(kind, ig_user_id):
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.fired += 1
                return fault
        return None

    def to_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]
