"""Result dataclasses as response bodies (what scheduled functions answer without pydantic), their
OpenAPI schema, and error details that JSON cannot hold as they are."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from sociallab.errors import NotFoundError
from sociallab.http import Call, Router, openapi
from sociallab.http.responses import error_response, json_response
from sociallab.results import NOT_IN_RESPONSE, answered_fields

pytestmark = pytest.mark.unit


@dataclasses.dataclass
class Part:
    account_id: str = ""
    calls: int = 0


@dataclasses.dataclass
class RunResult:
    run_id: str
    done: int = 0
    part: Part = dataclasses.field(default_factory=Part)
    notes: list[str] = dataclasses.field(default_factory=list, metadata=NOT_IN_RESPONSE)


def test_a_result_answers_its_fields_but_not_those_kept_for_the_server() -> None:
    result = RunResult(run_id="r1", done=2, part=Part("a1", 3), notes=["kept for the log"])
    assert answered_fields(RunResult) == ["run_id", "done", "part"]
    answered = json.loads(json_response(result).body)
    assert answered == {"run_id": "r1", "done": 2, "part": {"account_id": "a1", "calls": 3}}


def test_the_openapi_schema_of_a_result_is_what_it_answers_with_its_nested_parts() -> None:
    router = Router("results-test", schedule_seconds=60)

    @router.post("/", auth="scheduler", response=RunResult)
    async def run(call: Call) -> RunResult:
        return RunResult(run_id=call.request_id)

    document = openapi.build([router])
    schemas = document["components"]["schemas"]
    assert schemas["RunResult"]["required"] == ["run_id", "done", "part"]
    assert "notes" not in schemas["RunResult"]["properties"]
    reference = json.dumps(schemas["RunResult"]["properties"]["part"])
    assert "#/components/schemas/Part" in reference
    assert set(schemas["Part"]["properties"]) == {"account_id", "calls"}


def test_an_error_detail_json_cannot_hold_is_answered_as_text() -> None:
    detail = {"field": "post_id", "id": uuid.UUID(int=1)}
    body = json.loads(error_response(NotFoundError("No such post.", details=[detail]), "req-1").body)
    assert body["error"]["details"] == [{"field": "post_id", "id": "00000000-0000-0000-0000-000000000001"}]
