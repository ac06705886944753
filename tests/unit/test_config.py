from __future__ import annotations

import dataclasses

import pytest

from sociallab.config import Secret, Settings, get_settings, reset_settings
from sociallab.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_environment_names_of_the_contract_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTAGRAM_GRAPH_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("PUBLISHING_ENABLED", "false")
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    settings = Settings()
    assert settings.instagram_graph_url == "http://127.0.0.1:9999"
    assert settings.publishing_enabled is False
    assert settings.storage_backend == "s3"


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_MODEL", "from-env")
    assert Settings(gemini_model="explicit").gemini_model == "explicit"


def test_require_names_every_missing_variable() -> None:
    settings = Settings(instagram_app_id="123", instagram_app_secret="")
    with pytest.raises(ConfigurationError) as caught:
        settings.require("instagram_app_id", "instagram_app_secret", "instagram_redirect_uri")
    assert "INSTAGRAM_APP_SECRET" in caught.value.message
    assert "INSTAGRAM_REDIRECT_URI" in caught.value.message
    assert "INSTAGRAM_APP_ID" not in caught.value.message


def test_a_wrong_value_is_reported_with_its_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_BACKEND", "ftp")
    reset_settings()
    with pytest.raises(ConfigurationError, match="STORAGE_BACKEND"):
        get_settings()


def test_secrets_never_show_in_repr_and_are_listed_for_redaction() -> None:
    settings = Settings(webhook_secret="super-secret-webhook", gemini_api_key="AIza-key-123")
    assert "super-secret-webhook" not in repr(settings)
    assert settings.secret("webhook_secret") == "super-secret-webhook"
    assert set(settings.secret_values()) >= {"super-secret-webhook", "AIza-key-123"}
    with pytest.raises(ConfigurationError, match="SCHEDULER_SECRET"):
        settings.secret("scheduler_secret")


def test_issuer_defaults_to_the_supabase_auth_url() -> None:
    assert Settings(supabase_url="https://p.supabase.co/").expected_issuer == "https://p.supabase.co/auth/v1"
    assert Settings(jwt_issuer="custom").expected_issuer == "custom"
    assert Settings().expected_issuer is None


def test_the_database_password_is_listed_for_redaction() -> None:
    settings = Settings(database_url="postgresql://postgres.ref:pooler-pass-4711@pooler.example:6543/postgres")
    assert settings.secret_values() == ["pooler-pass-4711"]
    assert Settings(database_url="host=/tmp dbname=x").secret_values() == []


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DB_POOL_MAX_SIZE", "ten", "DB_POOL_MAX_SIZE: should be an integer"),
        ("IMAGE_DECODE_WAIT_SECONDS", "soon", "IMAGE_DECODE_WAIT_SECONDS: should be a number"),
        ("PUBLISHING_ENABLED", "maybe", "PUBLISHING_ENABLED: should be true or false"),
        ("IMAGE_DECODE_BUDGET_MIB", "0", "IMAGE_DECODE_BUDGET_MIB: should be at least 1"),
        ("IMAGE_DECODE_WAIT_SECONDS", "-1", "IMAGE_DECODE_WAIT_SECONDS: should be at least 0"),
        ("STORAGE_BACKEND", "ftp", "STORAGE_BACKEND: should be one of local, supabase, s3"),
    ],
)
def test_each_bad_value_is_named_with_what_it_should_be(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.message == f"Invalid configuration: {said}"


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "http")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "many")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert "RATE_LIMIT_PER_MINUTE: should be an integer" in caught.value.message
    assert "PORT: should be an integer" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("Yes", True), ("on", True), ("0", False), ("OFF", False)]
)
def test_switches_read_the_usual_spellings(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("SCHEDULER_PLATFORM_VERIFIED", value)
    assert Settings().scheduler_platform_verified is expected


def test_numbers_from_the_environment_are_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "3")
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "2.5")
    settings = Settings()
    assert (settings.db_pool_max_size, settings.image_decode_wait_seconds) == (3, 2.5)


def test_a_secret_given_in_code_is_kept_secret_and_a_misspelt_setting_is_refused() -> None:
    settings = Settings(token_encryption_key="k1:abcdefgh", supabase_url="https://p.supabase.co//")
    assert settings.token_encryption_key == Secret("k1:abcdefgh")
    assert "abcdefgh" not in repr(settings) and "abcdefgh" not in str(settings.token_encryption_key)
    assert settings.supabase_url == "https://p.supabase.co"
    with pytest.raises(TypeError, match="webhook_secrets"):
        Settings(webhook_secrets="x")


def test_every_setting_can_be_given_as_an_environment_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new setting of a type the converter does not know fails here, not when production sets it."""
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        default = getattr(defaults, field.name)
        monkeypatch.setenv(field.name.upper(), "x-value" if default is None else str(default).lower())
    settings = Settings()
    assert settings.db_pool_max_size == 10 and settings.publishing_enabled is True
    assert settings.webhook_secret == Secret("x-value")


def test_a_wait_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "nan")
    with pytest.raises(ConfigurationError, match="IMAGE_DECODE_WAIT_SECONDS: should be at least 0"):
        Settings()


def test_an_empty_secret_counts_as_unset() -> None:
    settings = Settings(supabase_jwt_secret="", webhook_secret="")
    assert not settings.supabase_jwt_secret
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET"):
        settings.secret("webhook_secret")
