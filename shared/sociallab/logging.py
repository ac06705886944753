"""Structured logs: one JSON object per line with `severity` and `message` (what Cloud Logging parses).

Context (request id, function, workspace, post) rides in context variables, so every line logged
while a request is handled carries it without passing it around. Secrets never reach the output:
bearer tokens, JWTs, signed-URL tokens and every configured secret value are redacted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("sociallab_log_context", default={})  # noqa: B039

REDACTED = "[REDACTED]"
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|client_secret|token|sig|signature|x-amz-signature"
        r"|x-amz-credential|apikey|api_key|key|password|secret)[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"
    ),
]
_known_secrets: list[str] = []
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """`text` with every token-like value and every known secret replaced by [REDACTED]."""
    for secret in _known_secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def register_secrets(values: list[str]) -> None:
    """Add exact values (keys, passwords) that must never be logged."""
    for value in values:
        if value and value not in _known_secrets:
            _known_secrets.append(value)
    _known_secrets.sort(key=len, reverse=True)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (request_id, function, workspace_id, post_id, ...) to every log line inside."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context until it ends (e.g. the workspace once it is known)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_context() -> dict[str, Any]:
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARNING" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            **_context.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


_configured = False


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every log record to `stream` (stderr) as JSON lines. Safe to call more than once."""
    global _configured
    root = logging.getLogger()
    if not _configured:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.handlers = [handler]
        _configured = True
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "botocore", "urllib3", "hpack", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
