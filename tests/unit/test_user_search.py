"""User search's pure parts (projections/user_search.py): parsing, ranking, the cursor and
paging, with an in-memory engine and follower counts."""

from __future__ import annotations

import asyncio

import pytest

from projections.search_query import SearchQueryError
from projections.user_search import (
    MAX_CANDIDATES,
    UserHit,
    decode_user_cursor,
    encode_user_cursor,
    find_users,
    parse_user_query,
    rank_users,
    typo_distance,
)


def test_a_query_is_its_words_lowercased_and_folded_without_a_leading_at():
    assert parse_user_query("@Ada_L  Lovélace ada_l").tokens == ("ada_l", "lovelace")
    for bad in ("", "   ", "@", "!!", "a b c d e f g h i"):
        with pytest.raises(SearchQueryError):
            parse_user_query(bad)
    with pytest.raises(SearchQueryError):
        parse_user_query("a" * 101)


def test_typos_are_forgiven_by_length_as_elasticsearch_auto_does():
    assert [typo_distance(word) for word in ("ab", "abc", "abcde", "abcdef")] == [0, 1, 1, 2]


def test_users_rank_by_followers_then_text_then_oldest_account():
    hits = [UserHit(1, 4.0), UserHit(2, 1.0), UserHit(3, 2.0), UserHit(4, 2.0)]
    assert rank_users(hits, {2: 10, 3: 5, 4: 5}) == [2, 3, 4, 1]


def test_a_cursor_belongs_to_its_query():
    query, other = parse_user_query("ada"), parse_user_query("bob")
    assert decode_user_cursor(query, encode_user_cursor(query, 20)) == 20
    for cursor in (encode_user_cursor(other, 20), "nope", encode_user_cursor(query, 0)):
        with pytest.raises(SearchQueryError):
            decode_user_cursor(query, cursor)
    with pytest.raises(SearchQueryError):
        decode_user_cursor(query, encode_user_cursor(query, MAX_CANDIDATES))


def test_pages_walk_the_ranking_once_and_end_with_no_cursor():
    hits = [UserHit(user_id, 1.0) for user_id in range(1, 8)]
    followers = {user_id: 100 - user_id for user_id in range(1, 8)}

    async def candidates(query, count):
        return hits[:count]

    async def counts(ids):
        return {i: followers[i] for i in ids}

    query, seen, cursor = parse_user_query("x"), [], None
    while True:
        page = asyncio.run(find_users(candidates, counts, query, cursor, 3))
        seen += page.user_ids
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(1, 8))
