from __future__ import annotations

import pytest

from sociallab.config import Settings, get_settings, reset_settings
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
