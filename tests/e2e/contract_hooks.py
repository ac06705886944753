"""Schemathesis hooks for the contract test: what no schema can say, supplied to valid cases only.

A positive (schema-valid) case must be accepted, but some rules are about the world or span
fields, which a schema cannot say: a post's time must lie ahead (within a year); an uploaded file
must be a decodable photo; a photo template needs a photo; Instagram counts a caption together
with its hashtags (at most 2,200 characters). Positive cases are made to keep these rules here;
negative cases are left exactly as generated, so every rejection check keeps its full strength.

Body fields that must name rows that exist (`CONTRACT_BODY_VALUES`, set by the test) are put into
positive cases here too; negative cases keep whatever was generated (and are refused, with a 403 or
404 for a random id if nothing else). A positive `POST /instagram-auth/complete` gets what a browser
would hand over: a fresh state from `/start` and the code Instagram's (the sandbox's) consent gave
for it, since both work once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import schemathesis
from PIL import Image

PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
BODY_VALUES: dict[str, Any] = json.loads(os.environ.get("CONTRACT_BODY_VALUES", "{}"))
MAX_CAPTION = 2200
HASHTAGS_ROOM = 1500  # a PATCH without a caption keeps the stored one (a few hundred characters at most)
# Optional fields the world needs: generating from a photo template needs a photo (the pinned one).
NEEDED = {"POST /generate-content/": ("asset_ids",)}


def _fresh_login() -> dict[str, str]:
    """A state the demo owner started and the code Instagram's consent page sends back with it."""
    base, token = os.environ["CONTRACT_BASE_URL"], os.environ["CONTRACT_TOKEN"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        start = client.get("/instagram-auth/start", params={"workspace_id": os.environ["CONTRACT_WORKSPACE"]})
        consent = client.get(start.json()["authorize_url"], follow_redirects=False)
    query = httpx.URL(consent.headers["location"]).params
    return {"code": query["code"], "state": query["state"]}


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _fit_caption(body: dict[str, Any]) -> None:
    hashtags = body.get("hashtags")
    if isinstance(hashtags, list):
        while hashtags and len(" ".join(str(tag) for tag in hashtags)) + len(hashtags) > HASHTAGS_ROOM:
            hashtags.pop()
        room = MAX_CAPTION - len(" ".join(str(tag) for tag in hashtags)) - len(hashtags) - 2
        if isinstance(body.get("caption"), str):
            body["caption"] = body["caption"][: max(room, 0)]


def _photo(generated: object, media_type: str | None) -> bytes:
    """A small photo in `media_type`'s format (JPEG otherwise), its colour taken from what was generated,
    so different cases upload different photos and equal ones repeat (a new asset, or the same one)."""
    shade = hashlib.sha256(repr(generated).encode()).digest()[0]
    buffer = io.BytesIO()
    Image.new("RGB", (480, 600), (shade, 90, 160)).save(buffer, PIL_FORMATS.get(media_type or "", "JPEG"))
    return buffer.getvalue()


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    if isinstance(case.body.get("scheduled_at"), str):
        case.body["scheduled_at"] = _future()
    if isinstance(case.body.get("schedule"), str) and case.body["schedule"] != "best":
        case.body["schedule"] = _future()
    needed = NEEDED.get(f"{case.method.upper()} {case.operation.path}", ())
    for name, value in BODY_VALUES.items():
        if name in case.body or name in needed:
            case.body[name] = value
    if f"{case.method.upper()} {case.operation.path}" == "POST /instagram-auth/complete":
        case.body.update(_fresh_login())
    _fit_caption(case.body)
    if case.media_type == "multipart/form-data":
        if "file" in case.body:
            content_types = case.multipart_content_types or {}
            case.body["file"] = _photo(case.body["file"], content_types.get("file"))
    return case
