"""The page script (projections/redis_pages.py) against the step-by-step slow path.

Both read the same real Redis and PostgreSQL; wherever the script serves a page, it must be
the very page the slow path gives, cursor included, all the way down a timeline.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from api.timelines import Timelines
from infra.redis_clients import sync_redis
from infra.settings import Settings
from projections.engagements import Counts
from projections.read_models import open_read_models
from projections.redis_cache import CachedTweet
from projections.redis_pages import CandidateRow
from projections.timeline_entries import COMPLETE, PARTIAL, Entry, encode
from tests.conftest import CELEBRITY_THRESHOLD
from tests.support.clients import follow, home, post, register

# The script runs on a standalone server only: on a cluster every page is read step by step
# (projections/redis_pages.py), the path these tests hold the script to.
pytestmark = pytest.mark.skipif(
    Settings().redis_cluster_masters > 0, reason="no page script on a Redis Cluster"
)


def _act(client, user, method: str, path: str, **extra) -> None:
    response = client.request(method, f"/api/v1{path}", headers=user.auth, **extra)
    assert response.status_code == 200, response.text


def _state(client):
    """A viewer following a plain author, a retweeter and a celebrity, with likes,
    retweets, replies, quotes (one of a tweet then deleted), mentions, a deletion and an
    unfollow in their timelines; and tweets the viewer may not see (docs/safety.md),
    retweeted and quoted by those it follows: of a user the viewer blocks, of one who
    blocks the viewer, of one the viewer mutes (and follows), and of a protected account
    the viewer does not follow."""
    viewer, plain, retweeter, gone, star = (
        register(client, p) for p in ("view", "plain", "rt", "gone", "star")
    )
    blocked, blocker, muted, private = (
        register(client, p) for p in ("blkd", "blkr", "mute", "priv")
    )
    follow(client, viewer, muted)
    hidden = [post(client, user, f"hidden {user.username}") for user in (blocked, blocker, private)]
    muted_tweet = post(client, muted, "muted, from the viewer's home only")
    for tweet_id in [*hidden, muted_tweet]:
        _act(client, retweeter, "POST", f"/tweets/{tweet_id}/retweet")
        post(client, plain, "quoting one the viewer may not see", quote_of=tweet_id)
    _act(client, viewer, "POST", f"/users/{blocked.user_id}/block")
    _act(client, blocker, "POST", f"/users/{viewer.user_id}/block")
    _act(client, viewer, "POST", f"/users/{muted.user_id}/mute")
    _act(client, private, "PATCH", "/users/me", json={"protected": True})
    for user in (blocker, private):
        home(client, user)  # waits until the agents applied their writes
    for fan in [register(client, "fan") for _ in range(CELEBRITY_THRESHOLD)]:
        follow(client, fan, star)
    for followee in (plain, retweeter, gone, star):
        follow(client, viewer, followee)
    home(client, viewer)  # the timeline exists from here on: the star's tweets are not in it
    tweets = [
        post(client, plain, f'plain {n} \u00e9t\u00e9 "quoted" / \\ \n line') for n in range(12)
    ]
    tweets += [post(client, star, f"star {n} #famous") for n in range(6)]
    tweets += [post(client, gone, f"soon unfollowed {n}") for n in range(3)]
    tweets.append(post(client, viewer, "my own", reply_to=tweets[0]))
    tweets.append(post(client, plain, f"see @{star.username}, not @nobody_zz", quote_of=tweets[13]))
    tweets.append(post(client, retweeter, "quoting the doomed", quote_of=tweets[7]))
    for tweet_id in tweets[2:5]:
        assert (
            client.post(f"/api/v1/tweets/{tweet_id}/like", headers=viewer.auth).status_code == 200
        )
    for tweet_id in (tweets[1], tweets[13]):
        assert (
            client.post(f"/api/v1/tweets/{tweet_id}/retweet", headers=retweeter.auth).status_code
            == 200
        )
    assert (
        client.post(f"/api/v1/tweets/{tweets[6]}/retweet", headers=viewer.auth).status_code == 200
    )
    assert client.delete(f"/api/v1/tweets/{tweets[7]}", headers=plain.auth).status_code == 204
    assert (
        client.delete(f"/api/v1/users/{gone.user_id}/follow", headers=viewer.auth).status_code
        == 200
    )
    home(client, viewer)  # waits until the agents applied the viewer's writes
    for user in (plain, retweeter, star):  # and the others'
        home(client, user)
    return viewer, plain, star, retweeter, (blocked, blocker, muted, private)


def _compare_all_pages(read_fast, read_slow, limit: int) -> tuple[int, list[dict]]:
    """Walk the whole timeline: the script serves each page, identical to the slow path's
    (cursors included); the pages and every tweet met, in order."""
    pages, before, met = 0, None, []
    while True:
        slow, slow_next, slow_first = asyncio.get_event_loop().run_until_complete(
            read_slow(before, limit)
        )
        fast = asyncio.get_event_loop().run_until_complete(read_fast(before, limit))
        assert fast.served, f"page {pages} not served by the script: {fast.reason}"
        assert orjson.loads(b"[" + fast.tweets_json + b"]") == orjson.loads(orjson.dumps(slow))
        assert (fast.next_sort_key, fast.first_sort_key) == (slow_next, slow_first)
        pages, met = pages + 1, met + slow
        if slow_next is None:
            return pages, met
        before = slow_next


def test_the_script_serves_the_same_pages_as_the_slow_path(client, stack):
    viewer, plain, star, retweeter, unseen = _state(client)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    models_cm = open_read_models(stack.settings)
    models = loop.run_until_complete(models_cm.__aenter__())
    try:
        timelines = Timelines(models)
        met_one_by_one = None
        for limit in (1, 3, 7, 20, 100):
            pages, met = _compare_all_pages(
                lambda before, n: timelines.fast.home(viewer.id, before, n),
                lambda before, n: timelines.slow_home(viewer.id, before, n, 1.0),
                limit,
            )
            assert pages >= 1
            met_one_by_one = met_one_by_one or met
        # Pull to refresh: paging down to a bound gives exactly what is newer than it, in
        # order, on both paths (the bound: an entry's sort key, as a prev_cursor carries).
        # No tweet is twice among the newest nine entries here (a retweet's original is
        # older), so every page size meets them alike.
        tops = loop.run_until_complete(timelines.slow_home(viewer.id, None, 100, 1.0))
        keys = []
        before = None
        while len(keys) < 9:  # the sort keys of the newest entries, one page of one at a time
            found = loop.run_until_complete(timelines.slow_home(viewer.id, before, 1, 1.0))
            keys.append(found.first_sort_key)
            before = found.next_sort_key
        assert tops.first_sort_key == keys[0]
        for newer in (0, 1, 4, 8):
            for limit in (1, 3, 20):
                _, met = _compare_all_pages(
                    lambda before, n, newer=newer: timelines.fast.home(
                        viewer.id, before, n, after=keys[newer]
                    ),
                    lambda before, n, newer=newer: timelines.slow_home(
                        viewer.id, before, n, 1.0, keys[newer]
                    ),
                    limit,
                )
                assert met == met_one_by_one[:newer]
            for reader in (viewer.id, None):
                for author in (plain.id, retweeter.id):
                    _compare_all_pages(
                        lambda before, n, reader=reader, author=author: timelines.fast.user(
                            author, reader, before, n
                        ),
                        lambda before, n, reader=reader, author=author: timelines.slow_user(
                            author, reader, before, n
                        ),
                        limit,
                    )
        # The ranked timeline's candidates (api/ranked.py): the same entries and tweets, of
        # a window (newer than a sort key) or all.
        for after in (keys[4], None):
            for limit in (1, 5, 800):
                found = loop.run_until_complete(timelines.fast.candidates(viewer.id, limit, after))
                assert found.found is not None, found.reason
                entries, known = loop.run_until_complete(
                    timelines.home_candidates(viewer.id, limit, after, 1.0)
                )
                assert found.found == [CandidateRow.of(e, known[e.tweet_id]) for e in entries]
                if after is not None:  # the four newer than the bound, newest first
                    assert [e.sort_key for e in entries] == keys[: min(limit, 4)]
        assert any(row.reply_to for row in found.found) and any(row.quote_of for row in found.found)
        # A reply cached before its hash held `reply_to`: the script reads it from the JSON.
        reply = next(row for row in found.found if row.reply_to)
        loop.run_until_complete(
            models.redis.hdel(models.keys.tweet(reply.entry.tweet_id), "reply_to")
        )
        again = loop.run_until_complete(timelines.fast.candidates(viewer.id, 800, None))
        assert again.found == found.found
        # The newest of the timeline, as far as the caches hold it (no older ones from the
        # stores past a PARTIAL one).
        shown = [int(tweet["tweet_id"]) for tweet in tops.tweets]
        assert [entry.tweet_id for entry in entries] == shown[: len(entries)]
        fast = loop.run_until_complete(timelines.fast.home(viewer.id, None, 100))
        tweets = orjson.loads(b"[" + fast.tweets_json + b"]")
        assert any(t["retweeted_by"] for t in tweets) and any(t["liked_by_me"] for t in tweets)
        assert any(t["retweeted_by_me"] for t in tweets) and any(t["reply_to"] for t in tweets)
        assert any(t["user"]["id"] == star.user_id for t in tweets)  # pulled, merged
        assert not any(t["content"].startswith("soon unfollowed") for t in tweets)
        quoted = [t["quoted_tweet"] for t in tweets if t["quoted_tweet"]]
        assert any(q.get("unavailable") for q in quoted) and any(q.get("user") for q in quoted)
        assert any(t["entities"]["mentions"] for t in tweets)
        # Nothing of the users the viewer may not see, nor of the one it mutes: neither their
        # tweets nor retweets of them; quotes of them show unavailable.
        blocked, blocker, muted, private = (str(user.id) for user in unseen)
        assert not {t["user"]["id"] for t in tweets} & {blocked, blocker, muted, private}
        quoting = [t for t in tweets if t["content"].startswith("quoting one")]
        assert len(quoting) == 4 and all(t["quoted_tweet"]["unavailable"] for t in quoting)
        # On the retweeter's timeline the mute does not apply; the blocks and protection do.
        page = loop.run_until_complete(timelines.fast.user(retweeter.id, viewer.id, None, 100))
        shown = {t["user"]["id"] for t in orjson.loads(b"[" + page.tweets_json + b"]")}
        assert muted in shown and not shown & {blocked, blocker, private}
        anonymous = loop.run_until_complete(timelines.fast.user(retweeter.id, None, None, 100))
        shown = {t["user"]["id"] for t in orjson.loads(b"[" + anonymous.tweets_json + b"]")}
        assert {blocked, blocker, muted} <= shown and private not in shown
    finally:
        loop.run_until_complete(models_cm.__aexit__(None, None, None))
        loop.close()
        asyncio.set_event_loop(None)


def test_exact_ids_and_times_at_the_edges(stack):
    """Ids past 2**53 (the script turns 8-byte members into decimal keys) and times with and
    without milliseconds come out exactly."""
    settings = stack.settings
    loop = asyncio.new_event_loop()
    models_cm = open_read_models(settings)
    models = loop.run_until_complete(models_cm.__aenter__())
    sync = sync_redis(settings)
    keys = models.keys
    author = 2**63 - 7
    cases = [
        (2**63 - 1, 0),
        (2**53 + 1, 951_782_400_000),
        (2**62 + 12345, 4_102_444_799_999),
        (10**18 + 3, 1_700_000_000_001),
        (1, 86_399_999),
    ]
    timeline = keys.recent(author)
    try:
        cache = models.cache
        loop.run_until_complete(cache.fill_users({author: ("edge", 'Edge \u2603 "q"', False)}))
        loop.run_until_complete(
            cache.fill_tweets(
                [
                    CachedTweet(
                        tweet_id,
                        author,
                        "x \u00e9 \u2028",
                        created,
                        None,
                        Counts(1, 2, 3),
                        media=[],
                    )
                    for tweet_id, created in cases
                ]
            )
        )
        sync.zadd(timeline, {COMPLETE: 0} | {encode(Entry(t, t)): 0 for t, _ in cases})
        timelines = Timelines(models)
        fast = loop.run_until_complete(timelines.fast.user(author, None, None, 10))
        slow = loop.run_until_complete(timelines.slow_user(author, None, None, 10)).tweets
        assert fast.served, fast.reason
        assert orjson.loads(b"[" + fast.tweets_json + b"]") == orjson.loads(orjson.dumps(slow))
        assert [t["tweet_id"] for t in slow] == [str(t) for t, _ in sorted(cases, reverse=True)]
        times = {t["tweet_id"]: t["created_at"] for t in slow}
        assert times[str(2**53 + 1)] == "2000-02-29T00:00:00.000Z"
        assert times[str(10**18 + 3)] == "2023-11-14T22:13:20.001Z"
        assert times[str(2**63 - 1)] == "1970-01-01T00:00:00.000Z"

        # A PARTIAL timeline that runs out goes on in the stores: the script hands over.
        sync.zrem(timeline, COMPLETE)
        sync.zadd(timeline, {PARTIAL: 0})
        fast = loop.run_until_complete(timelines.fast.user(author, None, None, 10))
        assert not fast.served and fast.reason == "past-cache"
    finally:
        sync.delete(timeline, keys.user(author), *[keys.tweet(t) for t, _ in cases])
        loop.run_until_complete(models_cm.__aexit__(None, None, None))
        loop.close()
