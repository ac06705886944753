"""A fake of the Gemini API (generativelanguage.googleapis.com) for tests, served over real HTTP.

`POST /{api_version}/models/{model}:generateContent` with Google's shapes: the answer's JSON text in
`candidates[0].content.parts[0].text` plus `usageMetadata`; errors as `{"error": {code, message,
status, details}}` (429 RESOURCE_EXHAUSTED with a RetryInfo detail, 500 INTERNAL, 503 UNAVAILABLE,
400 API_KEY_INVALID when `x-goog-api-key` is wrong). Every request body is kept in `requests`, so a
test can check the system instruction and where the data was placed.

Script the next answers with `fake.script(...)`: "ok", "429", "500", "503", "malformed", "long",
or a dict used as the model's JSON output. When the script is empty, answers are "ok".

    async def test_x(fake_gemini):   # sets GEMINI_API_KEY / GEMINI_BASE_URL for the test
        fake_gemini.script("429", "ok")
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sociallab.config import reset_settings
from tests.servers import Swappable, serve

API_KEY = "fake-gemini-key-for-tests"
MODEL = "gemini-2.5-flash"


def _error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status, "details": details or []}}, code)


def _data_block(body: dict[str, Any]) -> dict[str, Any]:
    """The fenced JSON block of the user content (what captions.py sends as data)."""
    text = body["contents"][0]["parts"][0]["text"]
    found = re.search(r"```json\n(.*)\n```", text, re.DOTALL)
    return json.loads(found.group(1)) if found else {}


@dataclass
class FakeGemini:
    api_key: str = API_KEY
    retry_delay: str = "1s"
    retry_after_header: str | None = None
    answers: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *answers: Any) -> None:
        self.answers.extend(answers)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{version}/models/{method:path}", self.generate, methods=["POST"])])

    def ok_output(self, body: dict[str, Any]) -> dict[str, Any]:
        data = _data_block(body)
        club = data.get("club", "the club")
        return {
            "caption": f"Gemini caption for {club}: {data.get('content_type', 'post')}.",
            "hashtags": [*data.get("default_hashtags", []), "#gemini"],
            "alt_text": "A branded graphic.",
            "first_comment": None,
        }

    async def generate(self, request: Request) -> Response:
        method = request.path_params["method"]
        if not method.endswith(":generateContent"):
            return _error(404, "NOT_FOUND", f"Method not found: {method}")
        if request.headers.get("x-goog-api-key") != self.api_key:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            )
        body = await request.json()
        self.requests.append({"path": request.url.path, "body": body})
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "429":
            headers = {"Retry-After": self.retry_after_header} if self.retry_after_header else None
            response = _error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.",
                [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": self.retry_delay}],
            )
            if headers:
                response.headers.update(headers)
            return response
        if answer == "500":
            return _error(500, "INTERNAL", "An internal error has occurred.")
        if answer == "503":
            return _error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        if answer == "malformed":
            text = '{"caption": "Half a JSON'
        elif answer == "long":
            text = json.dumps(
                {
                    "caption": "What a match! " * 200,
                    "hashtags": [f"#tag{i}" for i in range(40)],
                    "alt_text": "x" * 1500,
                }
            )
        elif isinstance(answer, dict):
            text = json.dumps(answer)
        else:
            text = json.dumps(self.ok_output(body))
        return JSONResponse(
            {
                "candidates": [
                    {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 60, "totalTokenCount": 180},
                "modelVersion": MODEL,
                "responseId": f"fake-{len(self.requests)}",
            }
        )


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[tuple[str, Swappable]]:
    """The fake's server for the session; each test swaps a fresh fake in."""
    dispatch = Swappable()
    with serve(dispatch) as base_url:
        yield base_url, dispatch


@pytest.fixture
def fake_gemini(gemini_server: tuple[str, Swappable], monkeypatch: pytest.MonkeyPatch) -> FakeGemini:
    """A fresh fake for this test, with GEMINI_API_KEY / GEMINI_BASE_URL / GEMINI_MODEL pointing at it."""
    fake = FakeGemini()
    gemini_server[1].app = fake.app()
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", gemini_server[0])
    monkeypatch.setenv("GEMINI_MODEL", MODEL)
    reset_settings()
    return fake
