"""Tweet search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import Limit, Reader, ServicesDep
from api.personal import personal_boost
from api.problems import ProblemError
from api.routes import json_body, links, problem_responses
from projections.search_query import MAX_QUERY_LENGTH, SearchQueryError, parse_search_query
from schemas.api import TweetPage

router = APIRouter(prefix="/api/v1", tags=["search"])

_QUERY_HELP = (
    'words, "quoted phrases", #hashtag, from:username, since:YYYY-MM-DD, '
    "until:YYYY-MM-DD; all must match"
)


@router.get(
    "/search",
    response_model=TweetPage,
    responses=problem_responses(401, 422, 503),
)
async def search(
    request: Request,
    services: ServicesDep,
    viewer: Reader,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description=_QUERY_HELP)],
    cursor: Annotated[
        str | None, Query(max_length=4096, description="from a previous page's next_cursor")
    ] = None,
    limit: Limit = 20,
):
    """Tweets matching `q`, best first: relevance x recency x engagement, and for a signed-in
    reader the authors they follow or engaged with lately first at equal terms
    (docs/search.md); but tweets of users a block stands between you and, and of protected
    accounts you do not follow (a page may then be short)."""
    try:
        query = parse_search_query(q)
        personal = await personal_boost(services, viewer.user_id) if viewer else None
        found = await services.search.search(query, cursor, limit, personal)
    except SearchQueryError as error:
        raise ProblemError(
            422, "invalid-search-query", "Invalid Search Query", str(error)
        ) from None
    tweets = await services.timelines.hydrator.render_tweets(
        [hit.tweet_id for hit in found.hits], viewer.user_id if viewer else None
    )
    link = links(request, found.next_cursor)
    return json_body(
        {"tweets": tweets, "next_cursor": found.next_cursor}, {"Link": link} if link else None
    )
