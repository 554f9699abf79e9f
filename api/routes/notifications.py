"""Notifications: mentions, replies, quotes, likes, retweets and follows, grouped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import CurrentUser, Cursor, Limit, NotificationsReader, RunCommandDep, ServicesDep
from api.routes import links, problem_responses, respond
from commands.model import MarkNotificationsRead, NotificationsMarked
from commands.runner import Answer
from projections.notification_plan import KINDS, Kind
from projections.timeline_entries import encode_cursor
from schemas.api import (
    NotificationPage,
    NotificationsReadRequest,
    NotificationsReadState,
    UnreadCount,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
_KIND = "|".join(KINDS)
Types = Annotated[
    str | None,
    Query(
        pattern=f"^({_KIND})(,({_KIND}))*$",
        max_length=100,
        description=f"only these types, comma-separated: {', '.join(KINDS)}",
    ),
]


@router.get("", response_model=NotificationPage, responses=problem_responses(401, 422, 503))
async def notifications(
    request: Request,
    user: NotificationsReader,
    services: ServicesDep,
    types: Types = None,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Your notifications, newest first: likes, retweets and follows of one target grouped
    per day ("ada and 5 others liked your tweet"), each mention, reply and quote on its own."""
    kinds = [Kind(kind) for kind in types.split(",")] if types else list(KINDS)
    found, last = await services.notifications.page(user.user_id, kinds, cursor, limit)
    next_cursor = encode_cursor(last) if last is not None else None
    link = links(request, next_cursor)
    return JSONResponse(
        {"notifications": found, "next_cursor": next_cursor},
        headers={"Link": link} if link else None,
    )


@router.get("/unread_count", response_model=UnreadCount, responses=problem_responses(401, 503))
async def unread_count(user: NotificationsReader, services: ServicesDep):
    """How many of your notifications are newer than what you marked read."""
    return {"unread_count": await services.models.notifications.unread_count(user.user_id)}


@router.post(
    "/read",
    response_model=NotificationsReadState,
    responses=problem_responses(400, 401, 413, 415, 422, 503),
)
async def mark_read(body: NotificationsReadRequest, user: CurrentUser, run: RunCommandDep):
    """Mark your notifications read up to a notification's `latest_id` (that one and every
    older one), or, without `up_to`, all of them so far."""

    def render(result: NotificationsMarked) -> Answer:
        return Answer(200, NotificationsReadState(up_to=result.up_to).model_dump(mode="json"))

    return respond(await run(MarkNotificationsRead(user.user_id, body.up_to), render))
