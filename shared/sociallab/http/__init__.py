"""The HTTP toolkit every function uses: routing, parsing, auth, the error envelope, OpenAPI."""

from sociallab.http.auth import Authenticator, User
from sociallab.http.parsing import RequestModel
from sociallab.http.responses import ErrorEnvelope, json_response
from sociallab.http.router import Call, Route, Router

__all__ = ["Authenticator", "Call", "ErrorEnvelope", "RequestModel", "Route", "Router", "User", "json_response"]
