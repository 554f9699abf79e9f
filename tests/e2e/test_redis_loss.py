"""Redis emptied while running: reads rebuild every cache from PostgreSQL, each timeline once."""

from __future__ import annotations

import asyncio

import httpx

from infra.redis_clients import sync_redis
from projections.redis_keys import RedisKeys
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import follow, home, post, register

CONCURRENT_READS = 50


def test_after_redis_is_emptied_timelines_rebuild_once_and_correctly(client, stack, api_url):
    reader = register(client, "flush")
    authors = [register(client, "fa") for _ in range(3)]
    for author in authors:
        follow(client, reader, author)
    for n in range(30):
        post(client, authors[n % 3], f"survives the flush {n}")
    tweet_id = post(client, authors[0], "liked and retweeted")
    for action in ("like", "retweet"):
        assert (
            client.post(f"/api/v1/tweets/{tweet_id}/{action}", headers=reader.auth).status_code
            == 200
        )
    for author in authors:
        home(client, author)
    before = home(client, reader, limit=100)
    assert len(before["tweets"]) == 31  # the reader's retweet of a tweet shows it once
    [shared] = [t for t in before["tweets"] if t["tweet_id"] == tweet_id]
    assert shared["liked_by_me"] and shared["retweeted_by_me"]
    assert (shared["like_count"], shared["retweet_count"]) == (1, 1)

    # A second API process, so single-flight is shown across processes too.
    second_url = stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS)
    sync_redis(stack.settings).flushall()

    async def read_together():
        async with httpx.AsyncClient(timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.get(
                        f"{(api_url, second_url)[n % 2]}/api/v1/timeline/home",
                        headers=reader.auth,
                        params={"limit": 100},
                    )
                    for n in range(CONCURRENT_READS)
                )
            )

    responses = asyncio.run(read_together())
    assert {r.status_code for r in responses} == {200}
    assert all(r.json() == before for r in responses), "a rebuilt timeline differs"
    stats = sync_redis(stack.settings).hgetall(RedisKeys().stats())
    assert int(stats.get(b"timeline_builds", 0)) == 1, stats
