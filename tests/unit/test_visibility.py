"""Who a viewer may see (api/hydration.py's Visibility, docs/safety.md "What reads hide")."""

from __future__ import annotations

from api.hydration import Visibility
from projections.redis_cache import CachedTweet, CachedUser
from projections.timeline_entries import Entry


def _user(user_id: int, protected: bool = False) -> CachedUser:
    return CachedUser({"id": str(user_id)}, protected)


USERS = {1: _user(1), 2: _user(2), 3: _user(3, protected=True), 4: _user(4, protected=True)}


def test_hidden_users_are_not_shown_and_protected_ones_only_to_followers_and_themselves():
    seen = Visibility(1, USERS, hidden={2}, following={4})
    assert seen.shows(1) and seen.shows(None)
    assert not seen.shows(2)  # a block either way (or, where mutes apply, a mute)
    assert not seen.shows(3) and seen.shows(4)  # protected: a follower only
    assert Visibility(3, USERS, set(), set()).shows(3)  # the account itself
    assert seen.shows(99)  # unknown here: rendering leaves it out on its own


def test_an_anonymous_reader_sees_no_protected_account():
    seen = Visibility(None, USERS, set(), set())
    assert seen.shows(1) and seen.shows(2) and not seen.shows(3) and not seen.shows(4)


def test_an_entry_needs_both_its_author_and_its_retweeter_shown():
    seen = Visibility(1, USERS, hidden={2}, following=set())
    by_one = CachedTweet(10, 1, "x", 0, None, None)
    by_two = CachedTweet(11, 2, "x", 0, None, None)
    assert seen.shows_entry(Entry(10, 10), by_one)
    assert not seen.shows_entry(Entry(11, 11), by_two)
    assert not seen.shows_entry(Entry(12, 10, 2), by_one)  # retweeted by a hidden user
    assert not seen.shows_entry(Entry(13, 11, 1), by_two)  # a retweet of a hidden user
    assert not seen.shows_entry(Entry(14, 10, 3), by_one)  # by a protected account
