"""The Instagram error tree: Meta's codes -> what the caller should do, and the usage headers."""

from __future__ import annotations

import json

import pytest

from sociallab.errors import DependencyUnavailableError, RateLimitedError, UnprocessableError
from sociallab.instagram.errors import (
    DEFAULT_RETRY_AFTER,
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
from sociallab.instagram.usage import parse_usage

pytestmark = pytest.mark.unit


def meta(code: int | None, subcode: int | None = None, message: str = "An error", **extra: object) -> dict:
    error: dict[str, object] = {"message": message, "type": "IGApiException", "fbtrace_id": "AbC123"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, **extra}}


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected"),
    [
        (500, -1, 2207001, TransientError),
        (500, 1, None, TransientError),
        (503, 2, None, TransientError),
        (400, 9007, 2207027, ContainerNotReadyError),
        (400, 4, None, ThrottledError),
        (400, 17, None, ThrottledError),
        (400, 32, None, ThrottledError),
        (400, 613, None, ThrottledError),
        (400, 80002, None, ThrottledError),
        (400, 190, None, TokenInvalidError),
        (400, 190, 463, TokenInvalidError),
        (400, 102, None, TokenInvalidError),
        (400, 9, 2207042, PublishLimitError),
        (400, 24, 2207008, ContainerExpiredError),
        (400, 100, None, PermanentError),
        (400, 36000, 2207004, PermanentError),
        (400, 36001, 2207005, PermanentError),
        (400, 36003, 2207009, PermanentError),
        (400, 100, 2207010, PermanentError),
        (400, 9004, 2207052, MediaUnfetchableError),
        (400, 12345, None, PermanentError),
        (500, 12345, None, TransientError),
    ],
)
def test_codes_classify_into_the_tree(status: int, code: int, subcode: int | None, expected: type) -> None:
    error = classify(status, meta(code, subcode), {})
    assert type(error) is expected
    assert (error.meta_code, error.subcode, error.http_status, error.fbtrace_id) == (code, subcode, status, "AbC123")


def test_the_subcode_alone_decides_when_the_code_is_generic() -> None:
    assert isinstance(classify(400, meta(None, 2207042), {}), PublishLimitError)
    assert isinstance(classify(400, meta(None, 2207027), {}), ContainerNotReadyError)
    assert isinstance(classify(400, meta(None, 2207008), {}), ContainerExpiredError)


def test_a_5xx_without_a_body_is_transient_and_a_4xx_without_one_permanent() -> None:
    assert type(classify(502, None, {})) is TransientError
    assert type(classify(400, None, {})) is PermanentError
    assert classify(502, None, {}).message == "Instagram answered HTTP 502"


def test_is_transient_flag_makes_an_unknown_code_transient() -> None:
    assert type(classify(400, meta(555, is_transient=True), {})) is TransientError


def test_the_oauth_endpoints_flat_error_shape_is_read() -> None:
    error = classify(400, {"error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code"})
    assert type(error) is PermanentError
    assert error.message == "Invalid authorization code" and error.error_type == "OAuthException"


def test_throttling_takes_retry_after_from_the_business_usage_header() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps(
            {"17841": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]}
        )
    }
    error = classify(400, meta(80002), headers)
    assert isinstance(error, ThrottledError) and error.retry_after == 7 * 60
    assert classify(400, meta(4), {}).retry_after == DEFAULT_RETRY_AFTER


def test_a_transient_error_with_usage_over_90_percent_is_throttling() -> None:
    headers = {"x-app-usage": json.dumps({"call_count": 95, "total_time": 10, "total_cputime": 10})}
    assert isinstance(classify(500, meta(-1, 2207001), headers), ThrottledError)
    assert type(classify(500, meta(-1, 2207001), {"x-app-usage": '{"call_count": 50}'})) is TransientError


def test_reasons_are_readable_and_carry_the_codes() -> None:
    assert classify(400, meta(36003, 2207009), {}).reason == (
        "The image aspect ratio is not supported (between 4:5 and 1.91:1) (Instagram error 36003/2207009)"
    )
    assert "try again" not in classify(400, meta(100, 2207010), {}).reason
    assert classify(400, meta(777, message="Something odd"), {}).reason == "Something odd (Instagram error 777)"


def test_tokens_in_metas_message_are_redacted() -> None:
    error = classify(400, meta(100, message="bad request access_token=IGQVJsecretsecret123 rejected"), {})
    assert "IGQVJsecretsecret123" not in str(error) and "IGQVJsecretsecret123" not in error.reason


def test_every_error_is_an_app_error_with_a_string_envelope_when_translated() -> None:
    for error, expected in [
        (classify(400, meta(4), {}), RateLimitedError),
        (classify(500, meta(-1), {}), DependencyUnavailableError),
        (UnknownOutcomeError("lost"), DependencyUnavailableError),
        (classify(400, meta(190), {}), UnprocessableError),
        (classify(400, meta(36001, 2207005), {}), UnprocessableError),
    ]:
        assert isinstance(error, InstagramError)
        translated = error.to_app_error()
        assert type(translated) is expected and isinstance(translated.code, str)


def test_unknown_outcome_is_neither_transient_nor_permanent() -> None:
    assert not issubclass(UnknownOutcomeError, TransientError | PermanentError)
    assert issubclass(ContainerNotReadyError, TransientError)
    assert issubclass(MediaUnfetchableError, PermanentError)


def test_usage_headers_fold_into_the_highest_figure() -> None:
    headers = {
        "X-App-Usage": json.dumps({"call_count": 12, "total_time": 40, "total_cputime": 3}),
        "X-Business-Use-Case-Usage": json.dumps(
            {
                "111": [
                    {
                        "type": "instagram",
                        "call_count": 91,
                        "total_cputime": 5,
                        "total_time": 6,
                        "estimated_time_to_regain_access": 0,
                    }
                ],
                "222": [
                    {
                        "type": "instagram",
                        "call_count": 99,
                        "total_cputime": 99,
                        "total_time": 99,
                        "estimated_time_to_regain_access": 30,
                    }
                ],
            }
        ),
    }
    usage = parse_usage(headers, "111")
    assert usage is not None
    assert (usage.call_count_pct, usage.cpu_pct, usage.time_pct, usage.regain_seconds) == (91, 5, 40, None)
    assert usage.max_pct == 91 and usage.throttled
    everyone = parse_usage(headers)
    assert everyone is not None and everyone.regain_seconds == 1800 and everyone.max_pct == 99


def test_missing_or_garbage_usage_headers_give_none() -> None:
    assert parse_usage({}) is None
    assert parse_usage({"x-app-usage": "not json", "x-business-use-case-usage": "[1, 2]"}) is None
    low = parse_usage({"x-app-usage": '{"call_count": "7", "total_time": null}'})
    assert low is not None and low.max_pct == 7 and not low.throttled
