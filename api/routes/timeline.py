"""The home timeline, the mentions timeline and a hashtag's timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from api.deps import (
    CurrentUser,
    Cursor,
    Limit,
    NotificationsReader,
    Reader,
    Services,
    ServicesDep,
    Since,
    cursor_position,
)
from api.problems import ProblemError
from api.ranked import RankedCursorError, RankedPosition, SnapshotExpired
from api.routes import json_body, links, page, problem_responses
from schemas.api import TweetPage
from schemas.entities import as_hashtag

router = APIRouter(prefix="/api/v1/timeline", tags=["timeline"])


RawCursor = Annotated[
    str | None, Query(max_length=64, description="from a previous page's next_cursor")
]


@router.get(
    "/home",
    response_model=TweetPage,
    responses=problem_responses(401, 410, 422, 503),
)
async def home_timeline(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    cursor: RawCursor = None,
    limit: Limit = 20,
    since: Since = None,
    order: Annotated[
        Literal["chronological", "ranked"],
        Query(
            description="chronological: newest first (the default); ranked: what you are "
            "likeliest to engage with first (docs/ranking.md), paged through one ranking"
        ),
    ] = "chronological",
):
    """Tweets of the people you follow, and yours, newest first. With `since` (a page's
    `prev_cursor`), only what is newer than that page. With `order=ranked`, the newest
    candidates in the order the published model ranks them, each with the `reason` someone
    you follow shows it; its cursor pages through that one ranking (410 once it expires:
    start again without a cursor)."""
    wait = services.settings.read_your_writes_timeout_ms / 1000
    if order == "ranked":
        return await _ranked_home(request, user.user_id, services, cursor, limit, since, wait)
    position = cursor_position("cursor", cursor)
    found = await services.timelines.home(user.user_id, position, limit, wait, since)
    return page(
        request,
        found.tweets,
        found.next_sort_key,
        first_sort_key=found.first_sort_key,
        since=since,
        newer=True,
    )


async def _ranked_home(
    request: Request,
    viewer: int,
    services: Services,
    cursor: str | None,
    limit: int,
    since: int | None,
    wait: float,
):
    if since is not None:
        raise ProblemError(
            422,
            "invalid-parameter",
            "Invalid Parameter",
            "since: the ranked timeline has no pull to refresh; read it again from the top",
        )
    try:
        position = RankedPosition.decode(cursor) if cursor is not None else None
    except RankedCursorError:
        raise ProblemError(
            422, "invalid-cursor", "Invalid Cursor", "cursor: not a cursor this API issued"
        ) from None
    try:
        found = await services.ranked.page(viewer, position, limit, wait)
    except SnapshotExpired:
        raise ProblemError(
            410,
            "ranking-expired",
            "Ranking Expired",
            "the ranking this cursor pages through has expired: read the timeline again "
            "without a cursor",
        ) from None
    headers = {"Link": link} if (link := links(request, found.next_cursor)) else {}
    if found.model_version is not None:
        headers["Chirp-Ranker-Model"] = found.model_version
    return json_body({"tweets": found.tweets, "next_cursor": found.next_cursor}, headers)


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
