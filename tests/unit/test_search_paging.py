"""The cursor logic both adapters share, over a ranking held in memory."""

import asyncio

import pytest

from projections.search import SearchHit
from projections.search_paging import (
    MAX_DEPTH,
    SearchCursorError,
    SearchPosition,
    decode_cursor,
    encode_cursor,
    search_page,
)
from projections.search_query import parse_search_query

QUERY = parse_search_query("cats")


class Ranking:
    """A ranked list of tweet ids that a test changes between pages, recording each as_of."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.as_of_seen = []

    async def __call__(self, query, as_of_ms, count):
        self.as_of_seen.append(as_of_ms)
        return [SearchHit(tweet_id, 1.0) for tweet_id in self.ids[:count]]


def pages(ranking, limit, between=lambda n: None, clock=lambda: 1000.0):
    """Every page's ids, calling `between(page_number)` before each later page."""

    async def main():
        shown, cursor, number = [], None, 0
        while True:
            page = await search_page(ranking, QUERY, cursor, limit, clock)
            shown.append([hit.tweet_id for hit in page.hits])
            if page.next_cursor is None:
                return shown
            number += 1
            between(number)
            cursor = page.next_cursor

    return asyncio.run(main())


def flat(shown):
    return [tweet_id for page in shown for tweet_id in page]


def test_pages_cover_every_hit_once_and_the_last_page_has_no_cursor():
    ranking = Ranking(range(100, 0, -1))
    shown = pages(ranking, 7)
    assert flat(shown) == list(range(100, 0, -1))
    assert [len(page) for page in shown] == [7] * 14 + [2]


def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page():
    assert pages(Ranking(range(14, 0, -1)), 7) == [list(range(14, 7, -1)), list(range(7, 0, -1))]


def test_every_page_is_pinned_to_the_first_pages_moment():
    ranking = Ranking(range(30, 0, -1))
    times = iter([1000.0, 2000.0, 3000.0, 4000.0, 5000.0])
    pages(ranking, 10, clock=lambda: next(times))
    assert set(ranking.as_of_seen) == {1_000_000}


def test_deleting_shown_hits_and_the_anchor_between_pages_skips_nothing():
    ranking = Ranking(range(40, 0, -1))

    def delete_some(page_number):
        if page_number == 1:
            # the whole first page but its first hit, anchors included, plus one not yet shown
            for tweet_id in [39, 38, 37, 36, 35, 34, 33, 20]:
                ranking.ids.remove(tweet_id)

    assert flat(pages(ranking, 8, delete_some)) == [t for t in range(40, 0, -1) if t != 20]


def test_a_late_hit_ranked_above_the_anchor_is_not_shown_but_nothing_repeats():
    ranking = Ranking(range(30, 0, -1))

    def insert_above(page_number):
        if page_number == 1:
            ranking.ids.insert(2, 99)  # above the first page's end: the reader has passed it

    shown = flat(pages(ranking, 10, insert_above))
    assert shown == list(range(30, 0, -1))


def test_an_anchor_that_moved_far_down_still_fills_the_next_page():
    ranking = Ranking(range(200, 0, -1))

    def push_down(page_number):
        if page_number == 1:
            ranking.ids[5:5] = range(1000, 1060)  # 60 late hits ranked above the anchor

    shown = pages(ranking, 10, push_down)
    assert shown[1] == list(range(190, 180, -1))
    assert flat(shown) == list(range(200, 0, -1))


def test_near_ties_that_swap_across_the_page_boundary_are_neither_skipped_nor_repeated():
    ranking = Ranking(range(30, 0, -1))

    def swap_boundary(page_number):
        # BM25 statistics moved (tweets indexed elsewhere): hits next to the boundary swap.
        last_shown = ranking.ids.index(30 - 10 * page_number + 1)
        ids = ranking.ids
        ids[last_shown - 1], ids[last_shown + 1] = ids[last_shown + 1], ids[last_shown - 1]

    shown = flat(pages(ranking, 10, swap_boundary))
    assert sorted(shown, reverse=True) == list(range(30, 0, -1))


def test_paging_stops_at_the_maximum_depth():
    shown = flat(pages(Ranking(range(5000, 0, -1)), 100))
    assert len(shown) == MAX_DEPTH == len(set(shown))


def test_a_cursor_round_trips_and_only_fits_its_own_query():
    position = SearchPosition(
        as_of_ms=1_700_000_000_123,
        shown=40,
        anchors=(2**63 - 1, 5, 7),
        last_score=0.1 + 0.2,
        upcoming=(9, 2**62),
    )
    cursor = encode_cursor(QUERY, position)
    assert decode_cursor(QUERY, cursor) == position
    with pytest.raises(SearchCursorError, match="another query"):
        decode_cursor(parse_search_query("dogs"), cursor)


@pytest.mark.parametrize("cursor", ["", "nonsense", "e30", "!!!!", "eyJ2IjoyfQ", "a" * 300])
def test_a_broken_cursor_is_refused_with_a_reason(cursor):
    with pytest.raises(SearchCursorError, match="not valid"):
        decode_cursor(QUERY, cursor)
