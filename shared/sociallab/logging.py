"""Structured logs: one JSON object per line with `severity` and `message` (what Cloud Logging parses).

Context (request id, function, workspace, post, the request's trace) rides in context variables, so
every line logged while a request is handled carries it without passing it around. Secrets never
reach the output: bearer tokens, JWTs, signed-URL tokens and every configured secret value are redacted.

A deployed function sets this up when it is loaded: its `Router` calls `configure_function`, so no
entry point has to (issue 7.3). Cloud Logging groups a request's lines by `logging.googleapis.com/trace`
(`projects/<GOOGLE_CLOUD_PROJECT>/traces/<id>`, from `traceparent` or `X-Cloud-Trace-Context`); without
a project id the field is left out.
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
_process: dict[str, Any] = {}  # fields of every line of this process: the function, while it serves one
_functions: set[str] = set()
_project: str | None = None
_handler: logging.Handler | None = None
_level = "INFO"
TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"
SAMPLED = "logging.googleapis.com/trace_sampled"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([01]))?$")
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


def trace_project() -> str | None:
    """The project id trace fields name (GOOGLE_CLOUD_PROJECT, read by `configure_function`)."""
    return _project


def trace_fields(traceparent: str | None, cloud_trace_context: str | None, project: str | None) -> dict[str, Any]:
    """Cloud Logging's trace fields for a request's `traceparent` (W3C) or `X-Cloud-Trace-Context`
    header; empty when neither is valid or the project id is unknown."""
    trace_id = span = None
    sampled = False
    if traceparent and (found := _TRACEPARENT.match(traceparent.strip())):
        trace_id, span, sampled = found.group(1), found.group(2), int(found.group(3), 16) & 1 == 1
    elif cloud_trace_context and (found := _CLOUD_TRACE.match(cloud_trace_context.strip())):
        trace_id, sampled = found.group(1).lower(), found.group(3) == "1"
        span = f"{int(found.group(2)):016x}" if found.group(2) else None  # a decimal span id there
    if trace_id is None or int(trace_id, 16) == 0 or not project:
        return {}
    fields: dict[str, Any] = {TRACE: f"projects/{project}/traces/{trace_id}", SAMPLED: sampled}
    if span is not None and int(span, 16) != 0:
        fields[SPAN] = span
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARNING" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            **{k: v for k, v in _process.items() if v is not None},
            **_context.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class JsonLinesHandler(logging.Handler):
    """Writes each record as one line to `stream`, or to whatever `sys.stdout` is when it writes
    (a framework or a test may swap it after logging was set up)."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.stream or sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every log record to `stream` (default: stdout) as JSON lines. Safe to call more than once.

    Handlers of the plain `logging.StreamHandler` type (what `basicConfig` or a framework's `dictConfig`
    installs) are replaced; other handlers (a test's capture) are kept.
    """
    global _handler, _level
    _handler, _level = JsonLinesHandler(stream), level.upper()
    _install(_handler)
    logging.captureWarnings(True)  # a warning is a JSON line too, not a bare stderr line
    for noisy in ("httpx", "httpcore", "botocore", "urllib3", "hpack", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def ensure_configured() -> None:
    """Put our handler back if something replaced the root logger's handlers since `configure`.

    functions-framework does that after loading the entry point when LOG_EXECUTION_ID is set (as Cloud
    Run sets it): its `dictConfig` swaps the root handler and disables every logger that existed.
    """
    if _handler is not None and _handler not in logging.getLogger().handlers:
        _install(_handler)


def _install(handler: logging.Handler) -> None:
    root = logging.getLogger()
    kept = [h for h in root.handlers if type(h) is not logging.StreamHandler and not isinstance(h, JsonLinesHandler)]
    root.handlers = [*kept, handler]
    root.setLevel(_level)
    for logger in list(logging.getLogger().manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.disabled = False


def configure_function(function: str) -> None:
    """Logging for a function when it is loaded: JSON lines at the configured level, every configured
    secret value redacted, the project id for trace fields, and `function` on every line while the
    process serves only this one (the dev server serves all of them).

    Never raises: invalid settings are logged (and every request then answers them in the envelope).
    """
    from sociallab.config import get_settings
    from sociallab.errors import ConfigurationError

    global _project
    _functions.add(function)
    _process["function"] = function if len(_functions) == 1 else None
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        configure()
        logging.getLogger(__name__).error("invalid configuration", extra={"detail": exc.message})
        return
    configure(settings.log_level)
    register_secrets(settings.secret_values())
    _project = settings.google_cloud_project


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
