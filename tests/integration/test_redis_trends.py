"""The Redis trends store on the real Valkey: upserts by (window, hashtag), keeps the newest."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from infra.redis_clients import async_redis
from projections.redis_keys import RedisKeys
from projections.redis_trends import RedisTrends
from projections.trends import TrendRow

END = datetime(2026, 3, 1, tzinfo=UTC)


def _row(window: int, rank: int, hashtag: str, count: int) -> TrendRow:
    end = END + timedelta(minutes=5 * window)
    return TrendRow(
        window_start=end - timedelta(hours=1),
        window_end=end,
        rank=rank,
        hashtag=hashtag,
        count=count,
        previous_count=0,
        velocity=float(count),
    )


def _run(stack, steps):
    async def go():
        client = async_redis(stack.settings)
        try:
            store = RedisTrends(
                client, RedisKeys(f"trends-{uuid.uuid4().hex[:8]}:"), keep_windows=3
            )
            return await steps(store)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_rows_are_upserted_by_window_and_hashtag_and_only_the_newest_windows_stay(stack):
    async def steps(store: RedisTrends):
        rows = [
            _row(window, rank, tag, 10 - rank)
            for window in range(5)
            for rank, tag in enumerate(["a", "b"], 1)
        ]
        await store.upsert(rows)
        once = await store.newest(10)
        await store.upsert(rows[::-1])  # delivered again, in another order
        await store.upsert([_row(4, 1, "a", 12)])  # the job's newer figure for a row
        return once, await store.newest(10)

    once, after = _run(stack, steps)
    assert [window.end for window in once] == [END + timedelta(minutes=5 * w) for w in (4, 3, 2)]
    assert [[(row.rank, row.hashtag) for row in window.rows] for window in once] == [
        [(1, "a"), (2, "b")]
    ] * 3
    assert after[1:] == once[1:]
    assert [(row.hashtag, row.count) for row in after[0].rows] == [("a", 12), ("b", 8)]
