"""Hybrid fan-out: celebrities are pulled at read time, also when the threshold moves."""

from __future__ import annotations

import os
import signal
import time

from infra.redis_clients import sync_redis
from projections.redis_keys import RedisKeys
from projections.timeline_entries import Entry, encode
from tests.conftest import (
    CELEBRITY_THRESHOLD,
    FANOUT_LAG_BOUND_SECONDS,
    LOWERED_THRESHOLD,
    RECENT_CAP,
)
from tests.support.clients import eventually, follow, home, home_ids, post, register

KEYS = RedisKeys()


def pushed(stack, user, tweet_id: str) -> bool:
    """Whether fan-out wrote the tweet into the user's cached home timeline."""
    client = sync_redis(stack.settings)
    member = encode(Entry(int(tweet_id), int(tweet_id)))
    return client.zscore(KEYS.home(user.id), member) is not None


def followers_for(client, star, count: int):
    fans = [register(client, "fan") for _ in range(count)]
    for fan in fans:
        follow(client, fan, star)
        home(client, fan)  # each fan's read waits for its follow: counts are applied
    return fans


def test_a_celebrity_tweet_is_pulled_and_shown_exactly_once(client, stack):
    star = register(client, "star")
    fans = followers_for(client, star, CELEBRITY_THRESHOLD)
    profile = client.get(f"/api/v1/users/{star.user_id}").json()
    assert profile["followers_count"] == CELEBRITY_THRESHOLD
    tweet_id = post(client, star, "hello, fans")
    home(client, star)  # applied

    for fan in fans:
        assert home_ids(client, fan).count(tweet_id) == 1
        assert not pushed(stack, fan, tweet_id), "a celebrity's tweet was pushed"
    assert pushed(stack, star, tweet_id), "the author's own timeline gets the tweet"


def test_lowering_the_threshold_mid_stream_leaves_no_gaps_and_no_duplicates(client, stack, agents):
    author = register(client, "mid")
    # Between the lowered and the normal threshold: pushed normally, pulled while lagging.
    fans = followers_for(client, author, LOWERED_THRESHOLD + 1)
    reader = fans[0]
    before = [post(client, author, f"before the lag {n}") for n in range(5)]
    assert eventually(lambda: set(before) <= set(home_ids(client, reader)))

    os.kill(agents.pid, signal.SIGSTOP)  # fan-out falls behind...
    try:
        during = [post(client, author, f"while lagging {n}") for n in range(5)]
        time.sleep(FANOUT_LAG_BOUND_SECONDS * 1.5)
    finally:
        os.kill(agents.pid, signal.SIGCONT)  # ...and catches up with the threshold lowered
    assert eventually(lambda: set(during) <= set(home_ids(client, reader)), 15)
    after = [post(client, author, f"after the lag {n}") for n in range(5)]
    assert eventually(lambda: set(after) <= set(home_ids(client, reader)))

    shown = home_ids(client, reader)
    assert shown == sorted(before + during + after, key=int, reverse=True)
    # The threshold really moved: lagging tweets were left to pull, the others pushed.
    assert not any(pushed(stack, reader, t) for t in during)
    flags = [pushed(stack, reader, t) for t in before + after]
    assert flags == [True] * 10, flags


def test_a_celebritys_tweets_older_than_its_recents_are_still_in_home_pages(client):
    """Pulled tweets are merged from the author's recents, which hold the newest 50 here:
    a home timeline read deeper than that must not skip the older ones."""
    star, neighbour = register(client, "deep"), register(client, "nbr")
    reader = followers_for(client, star, CELEBRITY_THRESHOLD)[0]
    follow(client, reader, neighbour)
    home(client, reader)
    posted = []
    for n in range(RECENT_CAP + 10):
        posted.append(post(client, star, f"from the star {n}"))
        if n % 5 == 0:  # pushed into the reader's timeline, down past the star's recents
            posted.append(post(client, neighbour, f"from the neighbour {n}"))
    home(client, star)
    home(client, neighbour)  # both applied
    newest_first = sorted(posted, key=int, reverse=True)
    for limit in (20, 100):
        seen, cursor = [], None
        while True:
            page = home(client, reader, cursor, limit)
            seen += [tweet["tweet_id"] for tweet in page["tweets"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == newest_first
