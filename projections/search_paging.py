"""Paging search results with a cursor that stays stable while tweets keep being indexed.

The first page pins the search to a moment `as_of`: every page filters to tweets created
before it (to the millisecond) and measures recency from it, so new tweets never shift later
pages and scores do not age between pages. Scores alone cannot mark where a page ended: BM25's
statistics move with every tweet indexed, deleted or merged away, so a score-based
`search_after` key could skip or repeat hits. The cursor therefore names hits on both sides of
the boundary: the last ids shown (anchors) and the next ids not shown yet (upcoming). The next
page resumes right after the last anchor still ranked, leaves out anchors that drifted below
it and takes in upcoming hits that drifted above it; only if every anchor was deleted does it
fall back to the last hit's (score, id) key. A hit can still be shown twice or skipped if its
rank moved across the boundary by more than those few places between two requests (a burst of
engagement).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from projections.search import SearchHit, SearchPage
from projections.search_query import SearchQuery, SearchQueryError

# Deepest rank a search pages to (Twitter's search and Elasticsearch's default window both
# stop somewhere): each page ranks everything above it again, so depth costs every page.
MAX_DEPTH = 1000
# Hits named on each side of a page boundary: enough for near ties that swap places.
ANCHORS = 3
# Ranked hits fetched past the page, so that resuming after an anchor that moved down a
# little (tweets indexed late, with older ids) still fills the page.
RESUME_SLACK = 20

# (query, as_of_ms, count) -> the top `count` hits, ordered by (score, tweet_id) descending.
RankedHits = Callable[[SearchQuery, int, int], Awaitable[list[SearchHit]]]


class SearchCursorError(SearchQueryError):
    """The cursor is malformed or belongs to another query."""


@dataclass(frozen=True)
class SearchPosition:
    """Where a search stands: the moment it is pinned to, the depth reached, the last ids
    shown (in rank order), the score of the very last, and the next ids not shown yet."""

    as_of_ms: int
    shown: int = 0
    anchors: tuple[int, ...] = ()
    last_score: float = 0.0
    upcoming: tuple[int, ...] = ()


def encode_cursor(query: SearchQuery, position: SearchPosition) -> str:
    """An opaque, URL-safe cursor for `position` in `query`'s results."""
    payload = {
        "v": 1,
        "q": query.fingerprint(),
        "t": position.as_of_ms,
        "n": position.shown,
        "a": [str(tweet_id) for tweet_id in position.anchors],
        "s": position.last_score,
        "u": [str(tweet_id) for tweet_id in position.upcoming],
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def decode_cursor(query: SearchQuery, cursor: str) -> SearchPosition:
    """The position a cursor stands for; SearchCursorError if it is not one of `query`'s."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if payload["v"] != 1:
            raise ValueError("unknown version")
        fingerprint = payload["q"]
        position = SearchPosition(
            int(payload["t"]),
            int(payload["n"]),
            tuple(int(anchor) for anchor in payload["a"]),
            float(payload["s"]),
            tuple(int(upcoming) for upcoming in payload["u"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise SearchCursorError("the cursor is not valid: start again without one") from None
    if fingerprint != query.fingerprint():
        raise SearchCursorError("the cursor belongs to another query: start again without one")
    if not (
        0 < position.shown <= MAX_DEPTH
        and 0 < len(position.anchors) <= ANCHORS
        and len(position.upcoming) <= ANCHORS
    ):
        raise SearchCursorError("the cursor is not valid: start again without one")
    return position


async def search_page(
    ranked_hits: RankedHits,
    query: SearchQuery,
    cursor: str | None,
    limit: int,
    clock: Callable[[], float] = time.time,
) -> SearchPage:
    """The page of `limit` hits after `cursor`, ranked by `ranked_hits`, and the next cursor."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    position = (
        decode_cursor(query, cursor) if cursor else SearchPosition(as_of_ms=int(clock() * 1000))
    )
    limit = min(limit, MAX_DEPTH - position.shown)
    if limit <= 0:
        return SearchPage([], None)
    count = position.shown + limit + RESUME_SLACK
    while True:
        ranked = await ranked_hits(query, position.as_of_ms, count)
        start = _resume_at(ranked, position)
        # Enough ranked to fill the page past anchors left out, and to know if more follow.
        if len(ranked) < count or start + limit + ANCHORS < count or count > 4 * MAX_DEPTH:
            break
        # The place to resume moved far down (tweets indexed late rank above it): go deeper.
        count = max(2 * count, start + limit + RESUME_SLACK)
    rest = _unshown(ranked, start, position)
    page = rest[:limit]
    if not page:
        return SearchPage([], None)
    hits = [hit for _, hit in page]
    shown = max(start, page[-1][0] + 1)
    if len(rest) == len(page) or shown >= MAX_DEPTH:
        return SearchPage(hits, None)
    next_position = SearchPosition(
        position.as_of_ms,
        shown,
        tuple(hit.tweet_id for hit in hits[-ANCHORS:]),
        hits[-1].score,
        tuple(hit.tweet_id for _, hit in rest[limit : limit + ANCHORS]),
    )
    return SearchPage(hits, encode_cursor(query, next_position))


def _resume_at(ranked: list[SearchHit], position: SearchPosition) -> int:
    """Right after the last anchor still ranked, else after the last hit's (score, id) key."""
    if not position.anchors:
        return 0
    places = {hit.tweet_id: index for index, hit in enumerate(ranked)}
    for anchor in reversed(position.anchors):
        if anchor in places:
            return places[anchor] + 1
    last = (position.last_score, position.anchors[-1])
    return next(
        (index for index, hit in enumerate(ranked) if (hit.score, hit.tweet_id) < last), len(ranked)
    )


def _unshown(
    ranked: list[SearchHit], start: int, position: SearchPosition
) -> list[tuple[int, SearchHit]]:
    """(rank, hit) of the hits still to show, in rank order: those after `start` but the
    anchors that drifted below it, and first the upcoming hits that drifted above it."""
    drifted_up = [
        (index, hit)
        for index, hit in enumerate(ranked[:start])
        if hit.tweet_id in position.upcoming
    ]
    below = [
        (index, hit)
        for index, hit in enumerate(ranked[start:], start)
        if hit.tweet_id not in position.anchors
    ]
    return drifted_up + below
