from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from sociallab import logging as slog

pytestmark = pytest.mark.unit


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(slog.JsonFormatter())
    logger = logging.getLogger("sociallab.test")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_severity_message_and_context(captured: io.StringIO) -> None:
    logger = logging.getLogger("sociallab.test")
    with slog.log_context(request_id="req-1", function="posts"):
        slog.bind(workspace_id="ws-1")
        logger.warning("published %s", "post-9", extra={"post_id": "post-9"})
    logger.info("outside")
    first, second = lines(captured)
    assert first["severity"] == "WARNING"
    assert first["message"] == "published post-9"
    assert (first["request_id"], first["function"], first["workspace_id"], first["post_id"]) == (
        "req-1",
        "posts",
        "ws-1",
        "post-9",
    )
    assert "request_id" not in second


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl here", "eyJzdWIiOiIxMjMifQ"),
        ("GET https://graph.instagram.com/me?fields=id&access_token=IGQVJ123secret", "IGQVJ123secret"),
        ("https://store/x.jpg?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA", "deadbeef"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("/storage/v1/object/sign/media/a.jpg?token=abcdef123", "abcdef123"),
    ],
)
def test_token_like_values_are_redacted(text: str, leak: str) -> None:
    assert leak not in slog.redact(text)
    assert slog.REDACTED in slog.redact(text)


def test_names_that_merely_contain_key_are_not_redacted() -> None:
    assert slog.redact('{"template_key": "match_result"}') == '{"template_key": "match_result"}'


def test_registered_secrets_are_redacted_everywhere(captured: io.StringIO) -> None:
    slog.register_secrets(["my-very-private-value"])
    logging.getLogger("sociallab.test").error(
        "db said my-very-private-value is wrong", extra={"x": "my-very-private-value"}
    )
    out = captured.getvalue()
    assert "my-very-private-value" not in out
    assert out.count(slog.REDACTED) == 2


def test_exceptions_are_logged_with_their_traceback(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("sociallab.test").exception("failed")
    (entry,) = lines(captured)
    assert entry["severity"] == "ERROR"
    assert "ValueError: boom" in str(entry["exception"])


def test_configure_installs_one_json_handler_and_survives_a_framework_dict_config() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        slog.configure("debug", stream)
        slog.configure("info", stream)
        assert sum(isinstance(h, slog.JsonLinesHandler) for h in root.handlers) == 1
        logger = logging.getLogger("sociallab.x")
        logger.info("hello")
        # What functions-framework does after loading an entry point when LOG_EXECUTION_ID is set.
        logging.config.dictConfig(
            {"version": 1, "handlers": {"h": {"class": "logging.StreamHandler"}}, "root": {"level": "WARNING"}}
        )
        slog.ensure_configured()
        logger.info("again")
        assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["hello", "again"]
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("traceparent", "cloud", "expected"),
    [
        (f"00-{TRACE_ID}-00f067aa0ba902b7-01", None, {"span": "00f067aa0ba902b7", "sampled": True}),
        (None, f"{TRACE_ID}/17;o=0", {"span": "0000000000000011", "sampled": False}),
        (None, TRACE_ID, {"sampled": False}),
        (f"00-{TRACE_ID}-00f067aa0ba902b7-00", f"{'1' * 32}/1;o=1", {"span": "00f067aa0ba902b7", "sampled": False}),
        ("garbage", "not-a-trace", None),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None, None),
    ],
)
def test_trace_fields_come_from_either_header(
    traceparent: str | None, cloud: str | None, expected: dict[str, object] | None
) -> None:
    fields = slog.trace_fields(traceparent, cloud, "proj-1")
    if expected is None:
        assert fields == {}
        return
    assert fields[slog.TRACE] == f"projects/proj-1/traces/{TRACE_ID}"
    assert fields[slog.SAMPLED] is expected["sampled"]
    assert fields.get(slog.SPAN) == expected.get("span")


def test_no_trace_field_without_a_project_id() -> None:
    assert slog.trace_fields(f"00-{TRACE_ID}-00f067aa0ba902b7-01", None, None) == {}
