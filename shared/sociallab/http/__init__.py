"""The HTTP toolkit every function uses: routing, parsing, auth, the error envelope, OpenAPI.

Request models live in `sociallab.http.parsing` (pydantic), which only functions with request bodies or
queries load: a scheduled function starts without pydantic (issue 7.4).
"""

from sociallab.http.auth import Authenticator, User
from sociallab.http.responses import json_response
from sociallab.http.router import Call, Route, Router

__all__ = ["Authenticator", "Call", "Route", "Router", "User", "json_response"]
