"""insights: how an account, its published posts and the templates perform (API.md "insights")."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.performance import service
from sociallab.performance.api_models import (
    PerformanceQuery,
    PostPerformanceList,
    SummaryOut,
    SummaryQuery,
    TemplatePerformanceList,
    TemplatesQuery,
)
from sociallab.scheduling.times import utcnow

router = Router("insights", description="Insights: account days, post figures, template figures and beliefs.")


@router.get("/accounts/{account_id:uuid}/summary", query=SummaryQuery, response=SummaryOut, errors=(404,))
async def summary(call: Call) -> SummaryOut:
    """Followers, reach, views, engaged accounts and interactions by UTC day (any member)."""
    q: SummaryQuery = call.query
    async with get_db().transaction() as tx:
        return await service.account_summary(
            tx, account_id=str(call.params["account_id"]), user_id=call.user_id, days=q.days, today=utcnow().date()
        )


@router.get("/posts", query=PerformanceQuery, response=PostPerformanceList, role="viewer", errors=(400, 404))
async def posts(call: Call) -> PostPerformanceList:
    """Each published post with its time, template, format and figures, newest first."""
    q: PerformanceQuery = call.query
    async with get_db().transaction() as tx:
        return await service.post_performance(
            tx,
            workspace_id=str(q.workspace_id),
            account_id=str(q.instagram_account_id) if q.instagram_account_id else None,
            start=q.from_,
            end=q.to,
            cursor=q.cursor,
            limit=q.limit,
        )


@router.get("/templates", query=TemplatesQuery, response=TemplatePerformanceList, role="viewer", errors=(404,))
async def templates(call: Call) -> TemplatePerformanceList:
    """Each template's posts, mean engagement rate, the selector's belief and choice probability."""
    q: TemplatesQuery = call.query
    async with get_db().transaction() as tx:
        return await service.template_performance(
            tx,
            workspace_id=str(q.workspace_id),
            account_id=str(q.instagram_account_id) if q.instagram_account_id else None,
        )


@functions_framework.aio.http
async def insights(request: Request) -> Response:
    return await router.handle(request)
