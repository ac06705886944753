"""The project's error tree.

Every failure a caller can act on is one of these; the HTTP layer maps each to a status and a
snake_case code of the API error envelope, so no handler needs its own mapping::

    AppError (500 internal_error)
     ├── BadRequestError (400 bad_request)             malformed JSON, bad multipart, bad cursor
     ├── AuthenticationError (401 unauthenticated)     missing, expired or forged credentials
     ├── PermissionDeniedError (403 forbidden)         authenticated, but not allowed
     ├── NotFoundError (404 not_found)                 no such row, or a row of another workspace
     ├── MethodNotAllowedError (405 method_not_allowed)
     ├── ConflictError (409 conflict)                  the current state forbids it; unique keys
     ├── PayloadTooLargeError (413 payload_too_large)
     ├── UnsupportedMediaTypeError (415 unsupported_media_type)
     ├── UnprocessableError (422 unprocessable)        valid JSON that breaks a rule
     │    └── RequestValidationError (422 validation_failed)  field-level problems, in `details`
     ├── RateLimitedError (429 rate_limited)           with `retry_after` seconds
     ├── DependencyUnavailableError (503 dependency_unavailable)  database or upstream down
     └── ConfigurationError (500 misconfigured)        a required environment variable is missing

The docstring of each class is its default message.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Something went wrong on our side."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str | None = None, *, details: list[dict[str, Any]] | None = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details or []
        super().__init__(self.message)


class BadRequestError(AppError):
    """The request could not be read."""

    status = 400
    code = "bad_request"


class AuthenticationError(AppError):
    """Missing or invalid credentials."""

    status = 401
    code = "unauthenticated"


class PermissionDeniedError(AppError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFoundError(AppError):
    """Not found."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(AppError):
    """This method is not allowed on this path."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str | None = None, *, allowed: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allowed = allowed  # the methods the path answers: the response's `Allow` header


class ConflictError(AppError):
    """This conflicts with the current state."""

    status = 409
    code = "conflict"

    def __init__(self, message: str | None = None, *, constraint: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.constraint = constraint


class PayloadTooLargeError(AppError):
    """The request body is too large."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(AppError):
    """This media type is not supported."""

    status = 415
    code = "unsupported_media_type"


class UnprocessableError(AppError):
    """The request breaks a rule."""

    status = 422
    code = "unprocessable"

    def __init__(self, message: str | None = None, *, constraint: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.constraint = constraint


class RequestValidationError(UnprocessableError):
    """Some fields are invalid."""

    code = "validation_failed"


class RateLimitedError(AppError):
    """Too many requests; try again later."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


class DependencyUnavailableError(AppError):
    """A service we depend on is unavailable; try again shortly."""

    status = 503
    code = "dependency_unavailable"


class ConfigurationError(AppError):
    """The service is not configured for this."""

    code = "misconfigured"
