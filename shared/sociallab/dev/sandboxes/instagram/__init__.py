"""A local Instagram Graph API sandbox (graph.instagram.com + api.instagram.com) for tests and `make run`.

`InstagramSandbox(...)` holds the state and serves it as a Starlette app (`.app`); `.faults` injects
failures. Part of `sociallab.dev`: never imported by production code paths.
"""

from __future__ import annotations

from sociallab.dev.sandboxes.instagram.app import InstagramSandbox
from sociallab.dev.sandboxes.instagram.faults import Fault, FaultPlan
from sociallab.dev.sandboxes.instagram.state import MetaError

__all__ = ["Fault", "FaultPlan", "InstagramSandbox", "MetaError"]
