"""Configuration: one validated `Settings`, read from the environment (names are part of API.md).

Explicit arguments win over the environment (variables named in capitals), which wins over defaults.
Optional integrations are `None` until configured; code that needs one calls `settings.require("NAME")`, which raises a
`ConfigurationError` naming the missing variable instead of failing somewhere deep inside.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from sociallab.errors import ConfigurationError

StorageBackend = Literal["local", "supabase", "s3"]
_STORAGE_BACKENDS: tuple[str, ...] = get_args(StorageBackend)
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}
_URLS_WITHOUT_TRAILING_SLASH = ("supabase_url", "public_base_url", "instagram_graph_url", "instagram_oauth_url")


class Secret:
    """A secret setting's value: never shown by `repr`/`str`, read with `get_secret_value()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __len__(self) -> int:  # an empty secret is falsy, as an unset one is
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Plain dataclass, not pydantic-settings: every function reads its settings on its first request, and
# pydantic with pydantic-settings cost more start-up time than all of publish-due's own code (issue 7.4).
@dataclass(init=False)
class Settings:
    database_url: str | None = None
    db_pool_max_size: int = 10

    supabase_url: str | None = None
    supabase_service_role_key: Secret | None = None
    supabase_jwt_secret: Secret | None = None
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None  # default: {SUPABASE_URL}/auth/v1

    storage_backend: StorageBackend = "local"
    storage_bucket: str = "media"
    storage_local_dir: str = ".data/storage"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    public_base_url: str = "http://127.0.0.1:8080"
    frontend_origins: str | None = None  # comma-separated origins redirects may go to, besides PUBLIC_BASE_URL

    instagram_app_id: str | None = None
    instagram_app_secret: Secret | None = None
    instagram_redirect_uri: str | None = None
    instagram_authorize_url: str = "https://www.instagram.com/oauth/authorize"
    instagram_oauth_url: str = "https://api.instagram.com"
    instagram_graph_url: str = "https://graph.instagram.com"
    instagram_api_version: str = "v25.0"

    google_service_account_json: Secret | None = None
    drive_api_url: str = "https://www.googleapis.com/drive/v3"

    gemini_api_key: Secret | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    gemini_daily_budget: int = 200  # Gemini calls per (Pacific) day for the whole project
    gemini_workspace_daily_budget: int = 50  # ... and for one workspace, so no club can spend everyone's

    token_encryption_key: Secret | None = None
    url_signing_key: Secret | None = None
    scheduler_secret: Secret | None = None
    scheduler_audience: str | None = None
    scheduler_service_account: str | None = None
    # True only on private Cloud Run services: the platform verified the scheduler's OIDC token and
    # replaced its signature with SIGNATURE_REMOVED_BY_GOOGLE before the request reached us.
    scheduler_platform_verified: bool = False
    google_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    webhook_secret: Secret | None = None

    # Image decoding at once per process (uploads, Drive imports, logos), in MiB of decoder memory (>= 1),
    # and how long a decode waits for room (>= 0 s) before the request is refused with a 503.
    image_decode_budget_mib: int = 512
    image_decode_wait_seconds: float = 60.0

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

    def __init__(self, **values: Any) -> None:
        """Each setting from `values` if given, else from its environment variable (the name in
        capitals), else its default. Strings are converted to the setting's type.

        Raises:
            ConfigurationError: a value has the wrong type or is out of range (names every such variable).
            TypeError: `values` names no setting.
        """
        unknown = set(values) - {field.name for field in fields(self)}
        if unknown:
            raise TypeError(f"Settings has no {', '.join(sorted(unknown))}")
        problems: list[str] = []
        for field in fields(self):
            given = values[field.name] if field.name in values else os.environ.get(field.name.upper())
            value: Any = field.default
            try:
                if given is not None:
                    value = _convert(str(field.type), given)
            except ValueError as exc:
                problems.append(f"{field.name.upper()}: {exc}")
                continue
            if field.name in _URLS_WITHOUT_TRAILING_SLASH and value:
                value = value.rstrip("/")
            setattr(self, field.name, value)
        problems += _out_of_range(self)
        if problems:
            raise ConfigurationError(f"Invalid configuration: {'; '.join(problems)}")

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
        return value.get_secret_value() if isinstance(value, Secret) else str(value)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redactor (DATABASE_URL's password too)."""
        values = [value.get_secret_value() for value in vars(self).values() if isinstance(value, Secret)]
        if self.database_url and "://" in self.database_url:
            values.append(urlsplit(self.database_url).password or "")
        return [value for value in values if len(value) >= 6]


def _convert(annotation: str, value: Any) -> Any:
    """`value` (an environment string, or a typed value given in code) as a setting of `annotation`.

    Raises:
        ValueError: the value cannot be one (the message says what was expected).
    """
    if annotation == "StorageBackend":
        if value not in _STORAGE_BACKENDS:
            raise ValueError(f"should be one of {', '.join(_STORAGE_BACKENDS)}")
        return value
    if annotation == "Secret | None":
        return value if isinstance(value, Secret) else Secret(str(value))
    if annotation in ("str", "str | None"):
        return str(value)
    if annotation == "bool":
        return value if isinstance(value, bool) else _boolean(str(value))
    if annotation in ("int", "float"):
        try:
            return int(value) if annotation == "int" else float(value)
        except (TypeError, ValueError):
            raise ValueError(f"should be a{'n integer' if annotation == 'int' else ' number'}") from None
    raise TypeError(f"no conversion for settings of type {annotation}")  # a new setting of a new type


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError("should be true or false")


def _out_of_range(settings: Settings) -> list[str]:
    problems = []
    if settings.image_decode_budget_mib < 1:
        problems.append("IMAGE_DECODE_BUDGET_MIB: should be at least 1")
    if not settings.image_decode_wait_seconds >= 0:  # NaN too
        problems.append("IMAGE_DECODE_WAIT_SECONDS: should be at least 0")
    return problems


def _is_set(value: Any) -> bool:
    if isinstance(value, Secret):
        return bool(value.get_secret_value())
    return value is not None and value != ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    Raises:
        ConfigurationError: a variable has a value of the wrong type (names the variable).
    """
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (after the environment changed: tests, the dev server)."""
    get_settings.cache_clear()
