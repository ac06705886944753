"""Results answered as they are: a result dataclass's fields are its JSON body (a scheduled function's
counts), except those marked `NOT_IN_RESPONSE`, which the server keeps for a log or a receipt."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

NOT_IN_RESPONSE = MappingProxyType({"in_response": False})


class DataclassInstance(Protocol):
    """Any dataclass instance (what typeshed's `_typeshed.DataclassInstance` is, without importing it)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


def answered_fields(result: DataclassInstance | type[DataclassInstance]) -> list[str]:
    """The names of the fields a result answers, in order."""
    return [field.name for field in dataclasses.fields(result) if field.metadata.get("in_response", True)]


def response_fields(result: DataclassInstance) -> dict[str, Any]:
    """A result's answered fields as a dict."""
    values = dataclasses.asdict(result)
    return {name: values[name] for name in answered_fields(result)}
