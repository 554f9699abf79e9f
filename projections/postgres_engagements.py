"""Likes, retweets, replies and their counts in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from projections.engagements import Change, Counts

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.likes (
    tweet_id bigint NOT NULL,
    user_id  bigint NOT NULL,
    liked_at timestamptz NOT NULL,
    PRIMARY KEY (tweet_id, user_id)
);
CREATE INDEX IF NOT EXISTS likes_by_user ON {schema}.likes (user_id);
CREATE TABLE IF NOT EXISTS {schema}.retweets (
    tweet_id bigint NOT NULL,
    user_id  bigint NOT NULL,
    sort_key bigint NOT NULL,
    -- Kept (inactive) after an unretweet, so a redelivered unretweet still knows which
    -- timeline entries to remove.
    active   boolean NOT NULL DEFAULT true,
    PRIMARY KEY (tweet_id, user_id)
);
CREATE INDEX IF NOT EXISTS retweets_by_user ON {schema}.retweets (user_id);
CREATE TABLE IF NOT EXISTS {schema}.replies (
    parent_id bigint NOT NULL,
    reply_id  bigint NOT NULL,
    PRIMARY KEY (parent_id, reply_id)
);
CREATE TABLE IF NOT EXISTS {schema}.tweet_counts (
    tweet_id bigint PRIMARY KEY,
    likes    integer NOT NULL DEFAULT 0 CHECK (likes >= 0),
    retweets integer NOT NULL DEFAULT 0 CHECK (retweets >= 0),
    replies  integer NOT NULL DEFAULT 0 CHECK (replies >= 0)
);
"""


class PostgresEngagementStore:
    def __init__(self, pool: AsyncConnectionPool, schema: str = "read_model") -> None:
        self.pool = pool
        self.schema = schema

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA_SQL.format(schema=self.schema))

    async def _apply(self, gate_sql: str, gate_params: tuple, tweet_id: int, column: str,
                     delta: int, moved=bool) -> tuple[Change, tuple | None]:
        # The set change and the count move in one transaction, the count only if the set
        # changed: a redelivered like neither doubles nor, unliked, goes negative.
        async with self.pool.connection() as conn, conn.transaction():
            gated = await (await conn.execute(gate_sql, gate_params)).fetchone()
            changed = gated is not None and moved(gated)
            if changed:
                row = await (await conn.execute(
                    f"INSERT INTO {self.schema}.tweet_counts (tweet_id, {column})"
                    " VALUES (%s, greatest(%s, 0))"
                    f" ON CONFLICT (tweet_id) DO UPDATE SET {column} = greatest("
                    f"{self.schema}.tweet_counts.{column} + %s, 0)"
                    " RETURNING likes, retweets, replies", (tweet_id, delta, delta))).fetchone()
            else:
                row = await (await conn.execute(
                    f"SELECT likes, retweets, replies FROM {self.schema}.tweet_counts"
                    " WHERE tweet_id = %s", (tweet_id,))).fetchone()
        return Change(changed, Counts(*row) if row else Counts()), gated

    async def like(self, tweet_id: int, user_id: int, liked_at: datetime) -> Change:
        change, _ = await self._apply(
            f"INSERT INTO {self.schema}.likes (tweet_id, user_id, liked_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1", (tweet_id, user_id, liked_at),
            tweet_id, "likes", 1)
        return change

    async def unlike(self, tweet_id: int, user_id: int) -> Change:
        change, _ = await self._apply(
            f"DELETE FROM {self.schema}.likes WHERE tweet_id = %s AND user_id = %s RETURNING 1",
            (tweet_id, user_id), tweet_id, "likes", -1)
        return change

    async def retweet(self, tweet_id: int, user_id: int, sort_key: int) -> tuple[Change, int]:
        # A first retweet keeps its own sort key; a retweet after an unretweet takes the new one.
        change, gated = await self._apply(
            f"WITH prior AS (SELECT active FROM {self.schema}.retweets"
            "  WHERE tweet_id = %s AND user_id = %s FOR UPDATE)"
            f" INSERT INTO {self.schema}.retweets AS r (tweet_id, user_id, sort_key, active)"
            " VALUES (%s, %s, %s, true) ON CONFLICT (tweet_id, user_id) DO UPDATE SET"
            " active = true,"
            " sort_key = CASE WHEN r.active THEN r.sort_key ELSE excluded.sort_key END"
            " RETURNING sort_key, coalesce((SELECT NOT active FROM prior), true)",
            (tweet_id, user_id, tweet_id, user_id, sort_key), tweet_id, "retweets", 1,
            moved=lambda row: row[1])
        return change, gated[0]

    async def unretweet(self, tweet_id: int, user_id: int) -> tuple[Change, int | None]:
        change, gated = await self._apply(
            f"WITH prior AS (SELECT active FROM {self.schema}.retweets"
            "  WHERE tweet_id = %s AND user_id = %s FOR UPDATE)"
            f" UPDATE {self.schema}.retweets SET active = false"
            " WHERE tweet_id = %s AND user_id = %s RETURNING sort_key, (SELECT active FROM prior)",
            (tweet_id, user_id, tweet_id, user_id), tweet_id, "retweets", -1,
            moved=lambda row: row[1])
        return change, gated[0] if gated else None

    async def add_reply(self, parent_id: int, reply_id: int) -> Change:
        change, _ = await self._apply(
            f"INSERT INTO {self.schema}.replies VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (parent_id, reply_id), parent_id, "replies", 1)
        return change

    async def remove_reply(self, parent_id: int, reply_id: int) -> Change:
        change, _ = await self._apply(
            f"DELETE FROM {self.schema}.replies WHERE parent_id = %s AND reply_id = %s RETURNING 1",
            (parent_id, reply_id), parent_id, "replies", -1)
        return change

    async def counts(self, tweet_ids: list[int]) -> dict[int, Counts]:
        if not tweet_ids:
            return {}
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT tweet_id, likes, retweets, replies FROM {self.schema}.tweet_counts"
                " WHERE tweet_id = ANY(%s)", (list(tweet_ids),))).fetchall()
        return {row[0]: Counts(*row[1:]) for row in rows}

    async def _ids(self, sql: str, params: tuple) -> list[int]:
        async with self.pool.connection() as conn:
            return [row[0] for row in await (await conn.execute(sql, params)).fetchall()]

    async def liked(self, user_id: int) -> list[int]:
        return await self._ids(f"SELECT tweet_id FROM {self.schema}.likes WHERE user_id = %s",
                               (user_id,))

    async def retweeted(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT tweet_id FROM {self.schema}.retweets WHERE user_id = %s AND active", (user_id,))

    async def likers(self, tweet_id: int, limit: int) -> list[int]:
        return await self._ids(
            f"SELECT user_id FROM {self.schema}.likes WHERE tweet_id = %s"
            " ORDER BY liked_at, user_id LIMIT %s", (tweet_id, limit))
