"""Instagram: the Graph API client (`client`), its typed errors (`errors`), usage headers (`usage`) and a
local sandbox of the API (`sandbox`, imported on demand: production code never loads it)."""

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
