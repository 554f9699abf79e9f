from hypothesis import given
from hypothesis import strategies as st

from projections.timeline_entries import (
    COMPLETE,
    PARTIAL,
    Entry,
    decode,
    decode_cursor,
    encode,
    encode_cursor,
    upper_bound,
)

ids = st.integers(min_value=1, max_value=2**63 - 1)


@given(st.lists(ids, min_size=2, max_size=50, unique=True))
def test_byte_order_is_numeric_order_for_all_64_bits(values):
    members = sorted(encode(Entry(v, v)) for v in values)
    assert [decode(m).tweet_id for m in members] == sorted(values)


def test_ids_that_collide_as_doubles_stay_distinct_and_ordered():
    # 2**60 and 2**60 + 1 are the same double: as scores they would tie and swap.
    a, b = 2**60, 2**60 + 1
    assert float(a) == float(b)
    assert encode(Entry(a, a)) < encode(Entry(b, b))


@given(ids, ids, ids)
def test_retweet_entries_round_trip_and_sort_by_their_own_time(sort_key, tweet_id, user):
    entry = Entry(sort_key, tweet_id, user)
    assert decode(encode(entry)) == entry
    assert COMPLETE < PARTIAL < encode(entry)
    # A retweet sorts by its own id, whatever tweet it carries.
    plain = Entry(sort_key + 1, sort_key + 1) if sort_key < 2**63 - 1 else None
    if plain is not None:
        assert encode(entry) < encode(plain)


@given(ids)
def test_cursors_round_trip_and_exclude_their_entry(sort_key):
    assert decode_cursor(encode_cursor(sort_key)) == sort_key
    assert upper_bound(sort_key) == b"(" + encode(Entry(sort_key, sort_key))


def test_foreign_cursors_are_refused():
    import pytest

    for bad in ["", "abc", "!!!!", encode_cursor(5) + "AA"]:
        with pytest.raises(ValueError):
            decode_cursor(bad)
