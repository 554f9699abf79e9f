"""Trends in Redis: a hash per window (hashtag, or region/hashtag -> row), and a sorted set of
the windows."""

from __future__ import annotations

from redis.asyncio import Redis

from projections.redis_keys import RedisKeys
from projections.trends import TrendRow, TrendWindow, decode_trend_row, window_of
from schemas.regions import GLOBAL

# Windows kept: two hours of history at the production slide of five minutes, enough to
# serve the newest complete window while the next one is arriving.
KEEP_WINDOWS = 24


def _window_id(row: TrendRow) -> int:
    return int(row.window_end.timestamp() * 1000)


def _field(row: TrendRow) -> str:
    """A row's field in its window's hash: the hashtag, after its region unless global (a
    hashtag holds no `/`)."""
    return row.hashtag if row.region == GLOBAL else f"{row.region}/{row.hashtag}"


class RedisTrends:
    """The trends store; each batch of rows is written in one transaction."""

    def __init__(self, redis: Redis, keys: RedisKeys, keep_windows: int = KEEP_WINDOWS) -> None:
        self.redis = redis
        self.keys = keys
        self.keep_windows = keep_windows

    async def upsert(self, rows: list[TrendRow]) -> None:
        if not rows:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for row in rows:
                window = _window_id(row)
                pipe.hset(self.keys.trend_window(window), _field(row), row.model_dump_json())
                pipe.zadd(self.keys.trend_windows(), {str(window): window})
            await pipe.execute()
        await self._trim()

    async def _trim(self) -> None:
        """Drop all but the newest windows (a replay of old windows passes through here too)."""
        old = await self.redis.zrange(self.keys.trend_windows(), 0, -(self.keep_windows + 1))
        if old:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(self.keys.trend_window(int(window)) for window in old))
                pipe.zrem(self.keys.trend_windows(), *old)
                await pipe.execute()

    async def newest(self, count: int) -> list[TrendWindow]:
        windows = await self.redis.zrevrange(self.keys.trend_windows(), 0, count - 1)
        if not windows:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for window in windows:
                pipe.hvals(self.keys.trend_window(int(window)))
            rows_per_window = await pipe.execute()
        # A window trimmed between the two reads comes back empty: skip it.
        return [
            window_of([decode_trend_row(raw) for raw in rows]) for rows in rows_per_window if rows
        ]
