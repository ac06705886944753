"""posts: create, edit, approve, schedule, cancel, retry and list posts; suggest best times (API.md "posts")."""

from __future__ import annotations

from typing import Any

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.scheduling import best_times, states
from sociallab.scheduling import posts as post_service
from sociallab.scheduling.api_models import (
    ApproveBody,
    BestTimesOut,
    BestTimesQuery,
    CreatePostBody,
    ListQuery,
    PostList,
    PostOut,
    RetryBody,
    ScheduleBody,
    SlotOut,
    UpdatePostBody,
)
from sociallab.scheduling.times import utcnow
from sociallab.storage import get_storage

router = Router("posts", description="Posts: validation, approval, scheduling, best times.")


@router.post("/", body=CreatePostBody, response=PostOut, status=201, role="editor", errors=(404,))
async def create(call: Call) -> PostOut:
    """Create a post from photos of the workspace (draft, or pending_approval/scheduled with a time)."""
    body: CreatePostBody = call.body
    async with get_db().transaction() as tx:
        row = await post_service.create_post(
            tx,
            workspace_id=str(body.workspace_id),
            actor_user_id=call.user_id,
            instagram_account_id=str(body.instagram_account_id),
            media_type=body.media_type,
            caption=body.caption,
            alt_text=body.alt_text,
            first_comment=body.first_comment,
            hashtags=body.hashtags,
            images=[post_service.PostImage(str(a), None, None, None) for a in body.asset_ids],
            scheduled_at=body.scheduled_at,
            caption_source="manual",
        )
        return await post_service.post_out(tx, row, storage=get_storage(), with_events=True)


@router.get("/", query=ListQuery, response=PostList, role="viewer", errors=(400,))
async def list_posts(call: Call) -> PostList:
    """List the workspace's posts, newest first (filters: status, account, scheduled from/to)."""
    q: ListQuery = call.query
    async with get_db().transaction() as tx:
        rows, cursor = await post_service.list_posts(
            tx,
            workspace_id=str(q.workspace_id),
            status=q.status,
            instagram_account_id=str(q.instagram_account_id) if q.instagram_account_id else None,
            start=q.from_,
            end=q.to,
            cursor=q.cursor,
            limit=q.limit,
        )
        return PostList(items=await post_service.posts_out(tx, rows, storage=get_storage()), next_cursor=cursor)


@router.get("/best-times", query=BestTimesQuery, response=BestTimesOut, errors=(404,))
async def best(call: Call) -> BestTimesOut:
    """Suggested times to post on an account in the coming 7 days."""
    q: BestTimesQuery = call.query
    async with get_db().transaction() as tx:
        slots, timezone = await best_times.suggest_for_member(
            tx, account_id=str(q.instagram_account_id), user_id=call.user_id, count=q.count, now=utcnow()
        )
    return BestTimesOut(slots=[SlotOut(at=s.at, score=s.score, reason=s.reason) for s in slots], timezone=timezone)


@router.get("/{post_id:uuid}", response=PostOut)
async def get_post(call: Call) -> PostOut:
    """One post with its events."""
    async with get_db().transaction() as tx:
        row = await post_service.post_for_member(tx, call.params["post_id"], call.user_id)
        return await post_service.post_out(tx, row, storage=get_storage(), with_events=True)


@router.patch("/{post_id:uuid}", body=UpdatePostBody, response=PostOut, errors=(409,))
async def update(call: Call) -> PostOut:
    """Edit a post (409 once publishing or published); a new time reschedules it."""
    changes: dict[str, Any] = call.body.model_dump(include=call.body.model_fields_set)
    if changes.keys() & set(states.CONTENT_FIELDS):  # the edit would drop a failed post's media container
        async with get_db().transaction() as tx:
            post = await post_service.post_for_member(tx, call.params["post_id"], call.user_id, minimum="editor")
        if post["status"] == "failed" and post["container_id"]:
            # The Instagram client and the publisher load for this case only (cold start).
            from sociallab.instagram.accounts import get_cipher
            from sociallab.instagram.client import InstagramClient, new_http_client
            from sociallab.publishing import settle_old_container

            async with new_http_client() as http:
                await settle_old_container(
                    get_db(),
                    InstagramClient.from_settings(call.settings, http),
                    get_cipher(call.settings),
                    post_id=str(post["id"]),
                    workspace_id=str(post["workspace_id"]),
                    actor=post_service.actor_name(call.user_id),
                )
    return await _act(call, lambda tx, post: states.update_post(tx, post, changes=changes, **_who(call)))


@router.post("/{post_id:uuid}/approve", body=ApproveBody, response=PostOut, errors=(409,))
async def approve(call: Call) -> PostOut:
    """Approve a post waiting for approval (owners)."""
    return await _act(call, lambda tx, p: states.approve(tx, p, scheduled_at=call.body.scheduled_at, **_who(call)))


@router.post("/{post_id:uuid}/schedule", body=ScheduleBody, response=PostOut, errors=(409,))
async def schedule(call: Call) -> PostOut:
    """Schedule or reschedule a post."""
    return await _act(call, lambda tx, p: states.schedule(tx, p, scheduled_at=call.body.scheduled_at, **_who(call)))


@router.post("/{post_id:uuid}/cancel", response=PostOut, errors=(409,))
async def cancel(call: Call) -> PostOut:
    """Cancel a post that has not started publishing."""
    return await _act(call, lambda tx, p: states.cancel(tx, p, actor_user_id=call.user_id))


@router.post("/{post_id:uuid}/retry", body=RetryBody, response=PostOut, errors=(409,))
async def retry(call: Call) -> PostOut:
    """Schedule a failed post again (now, or at `scheduled_at`)."""
    return await _act(call, lambda tx, p: states.retry(tx, p, scheduled_at=call.body.scheduled_at, **_who(call)))


def _who(call: Call) -> dict[str, Any]:
    return {"actor_user_id": call.user_id, "now": utcnow()}


async def _act(call: Call, action: Any) -> PostOut:
    """Load the caller's post (404 outside their workspaces, 403 for viewers), act, respond."""
    async with get_db().transaction() as tx:
        post = await post_service.post_for_member(tx, call.params["post_id"], call.user_id, minimum="editor")
        row = await action(tx, post)
        return await post_service.post_out(tx, row, storage=get_storage(), with_events=True)


@functions_framework.aio.http
async def posts(request: Request) -> Response:
    return await router.handle(request)
