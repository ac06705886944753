"""A local Instagram Graph API sandbox (graph.instagram.com + api.instagram.com) for tests and `make run`.

`InstagramSandbox(...)` holds the state and serves it as a Starlette app (`.app`); `.faults` injects
failures. Never imported by production code paths.
"""

from __future__ import annotations

from sociallab.instagram.sandbox.app import InstagramSandbox
from sociallab.instagram.sandbox.faults import Fault, FaultPlan
from sociallab.instagram.sandbox.state import MetaError

__all__ = ["Fault", "FaultPlan", "InstagramSandbox", "MetaError"]
