"""The home timeline, the mentions timeline and a hashtag's timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.deps import CurrentUser, Cursor, Limit, NotificationsReader, Reader, ServicesDep, Since
from api.problems import ProblemError
from api.routes import page, problem_responses
from schemas.api import TweetPage
from schemas.entities import as_hashtag

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


HashtagPath = Annotated[
    str, Path(min_length=1, max_length=140, description="a hashtag, with or without its #")
]


@router.get(
    "/tag/{hashtag}",
    response_model=TweetPage,
    responses=problem_responses(401, 422, 503),
)
async def hashtag_timeline(
    request: Request,
    hashtag: HashtagPath,
    viewer: Reader,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 20,
):
    """Tweets carrying a hashtag (matched case-insensitively), newest first, paged by a
    cursor that stays exact while new ones arrive. From the search index: a tweet shows
    once the search agent has indexed it."""
    tag = as_hashtag(hashtag)
    if tag is None:
        raise ProblemError(
            422, "invalid-hashtag", "Invalid Hashtag", f"{hashtag!r} is not one hashtag"
        )
    tweet_ids = await services.search.tagged(tag, cursor, limit)
    tweets = await services.timelines.hydrator.render_tweets(
        tweet_ids, viewer.user_id if viewer else None
    )
    # A full page may have more behind it; a tweet deleted but not yet unindexed is left
    # out of the page, not out of the paging.
    return page(request, tweets, tweet_ids[-1] if len(tweet_ids) == limit else None)
