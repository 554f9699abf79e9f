"""The home timeline, and the mentions timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import CurrentUser, Cursor, Limit, NotificationsReader, ServicesDep, Since
from api.routes import page, problem_responses
from schemas.api import TweetPage

router = APIRouter(prefix="/api/v1/timeline", tags=["timeline"])


@router.get(
    "/home",
    response_model=TweetPage,
    responses=problem_responses(401, 422, 503),
)
async def home_timeline(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
    since: Since = None,
):
    """Tweets of the people you follow, and yours, newest first. With `since` (a page's
    `prev_cursor`), only what is newer than that page."""
    found = await services.timelines.home(
        user.user_id, cursor, limit, services.settings.read_your_writes_timeout_ms / 1000, since
    )
    return page(
        request,
        found.tweets,
        found.next_sort_key,
        first_sort_key=found.first_sort_key,
        since=since,
        newer=True,
    )


@router.get(
    "/mentions",
    response_model=TweetPage,
    responses=problem_responses(401, 422, 503),
)
async def mentions_timeline(
    request: Request,
    user: NotificationsReader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Tweets that mention you (`@username`), reply to you or quote you, newest first."""
    tweets, last = await services.notifications.mentions(user.user_id, cursor, limit)
    return page(request, tweets, last)
