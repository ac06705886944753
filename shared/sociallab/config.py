"""Configuration: one validated `Settings`, read from the environment (names are part of API.md).

Explicit arguments win over the environment, which wins over defaults. Optional integrations are
`None` until configured; code that needs one calls `settings.require("NAME")`, which raises a
`ConfigurationError` naming the missing variable instead of failing somewhere deep inside.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sociallab.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str | None = None
    db_pool_max_size: int = 10

    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None  # default: {SUPABASE_URL}/auth/v1

    storage_backend: Literal["local", "supabase", "s3"] = "local"
    storage_bucket: str = "media"
    storage_local_dir: str = ".data/storage"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    public_base_url: str = "http://127.0.0.1:8080"
    frontend_origins: str | None = None  # comma-separated origins redirects may go to, besides PUBLIC_BASE_URL

    instagram_app_id: str | None = None
    instagram_app_secret: SecretStr | None = None
    instagram_redirect_uri: str | None = None
    instagram_authorize_url: str = "https://www.instagram.com/oauth/authorize"
    instagram_oauth_url: str = "https://api.instagram.com"
    instagram_graph_url: str = "https://graph.instagram.com"
    instagram_api_version: str = "v25.0"

    google_service_account_json: SecretStr | None = None
    drive_api_url: str = "https://www.googleapis.com/drive/v3"

    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    gemini_daily_budget: int = 200  # Gemini calls per (Pacific) day for the whole project
    gemini_workspace_daily_budget: int = 50  # ... and for one workspace, so no club can spend everyone's

    token_encryption_key: SecretStr | None = None
    url_signing_key: SecretStr | None = None
    scheduler_secret: SecretStr | None = None
    scheduler_audience: str | None = None
    scheduler_service_account: str | None = None
    # True only on private Cloud Run services: the platform verified the scheduler's OIDC token and
    # replaced its signature with SIGNATURE_REMOVED_BY_GOOGLE before the request reached us.
    scheduler_platform_verified: bool = False
    google_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    webhook_secret: SecretStr | None = None

    # Image decoding at once per process (uploads, Drive imports, logos), in MiB of decoder memory,
    # and how long a decode waits for room before the request is refused with a 503.
    image_decode_budget_mib: int = Field(default=512, ge=1)
    image_decode_wait_seconds: float = Field(default=60.0, ge=0)

    publishing_enabled: bool = True
    # A post Instagram keeps failing for a passing reason (an outage) is retried for this long after its time.
    publish_retry_window_seconds: int = 7200
    rate_limit_per_minute: int = 120
    max_body_bytes: int = 1_000_000
    log_level: str = "INFO"
    # The Google Cloud project, for Cloud Logging's trace field (Terraform sets it; Cloud Run functions
    # does not on current runtimes). Unset: log lines carry no trace field.
    google_cloud_project: str | None = None
    port: int = 8080

    @field_validator("supabase_url", "public_base_url", "instagram_graph_url", "instagram_oauth_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def expected_issuer(self) -> str | None:
        if self.jwt_issuer:
            return self.jwt_issuer
        return f"{self.supabase_url}/auth/v1" if self.supabase_url else None

    @property
    def frontend_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in (self.frontend_origins or "").split(",") if origin.strip()]

    def require(self, *names: str) -> None:
        """Raise `ConfigurationError` naming every variable in `names` that is not set.

        Raises:
            ConfigurationError: one or more of the variables is unset or empty.
        """
        missing = [name.upper() for name in names if not _is_set(getattr(self, name.lower()))]
        if missing:
            raise ConfigurationError(f"Missing configuration: {', '.join(missing)} must be set.")

    def secret(self, name: str) -> str:
        """The plain value of a secret setting, or `ConfigurationError` naming it."""
        self.require(name)
        value = getattr(self, name.lower())
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redactor (DATABASE_URL's password too)."""
        values = [value.get_secret_value() for value in vars(self).values() if isinstance(value, SecretStr)]
        if self.database_url and "://" in self.database_url:
            values.append(urlsplit(self.database_url).password or "")
        return [value for value in values if len(value) >= 6]


def _is_set(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value is not None and value != ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    Raises:
        ConfigurationError: a variable has a value of the wrong type (names the variable).
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"Invalid configuration: {problems}") from None


def reset_settings() -> None:
    """Forget the cached settings (after the environment changed: tests, the dev server)."""
    get_settings.cache_clear()
