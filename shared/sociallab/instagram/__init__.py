"""Instagram: the Graph API client (`client`), its typed errors (`errors`) and usage headers (`usage`).
A local sandbox of the API for `make run` and the tests is `sociallab.dev.sandboxes.instagram`."""

from __future__ import annotations

from sociallab.instagram.client import InstagramClient, Profile, PublishingLimit, TokenGrant
from sociallab.instagram.errors import (
    ContainerExpiredError,
    ContainerNotReadyError,
    InstagramError,
    MediaUnfetchableError,
    PermanentError,
    PublishLimitError,
    ThrottledError,
    TokenInvalidError,
    TransientError,
    UnknownOutcomeError,
    classify,
)
from sociallab.instagram.usage import Usage, parse_usage

__all__ = [
    "ContainerExpiredError",
    "ContainerNotReadyError",
    "InstagramClient",
    "InstagramError",
    "MediaUnfetchableError",
    "PermanentError",
    "Profile",
    "PublishLimitError",
    "PublishingLimit",
    "ThrottledError",
    "TokenGrant",
    "TokenInvalidError",
    "TransientError",
    "UnknownOutcomeError",
    "Usage",
    "classify",
    "parse_usage",
]
