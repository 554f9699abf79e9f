"""Likes, retweets, replies and their counts in PostgreSQL."""

from __future__ import annotations

from datetime import datetime


from projections.engagements import Change, Counts
from projections.postgres_store import PostgresStore

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
CREATE INDEX IF NOT EXISTS retweets_by_user ON {schema}.retweets (user_id, sort_key DESC);
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


class PostgresEngagementStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    async def _count(self, conn, tweet_id: int, column: str, delta: int) -> Counts:
        """Move one count by delta (0: just read them) and return all three."""
        if delta:
            # CHECK constraints apply to the proposed row too, so it never carries a negative.
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
        return Counts(*row) if row else Counts()

    async def _apply(self, gate_sql: str, gate_params: tuple, tweet_id: int, column: str,
                     delta: int) -> Change:
        # The set change and the count move in one transaction, the count only if the set
        # changed: a redelivered like neither doubles nor, unliked, goes negative.
        async with self.pool.connection() as conn, conn.transaction():
            changed = await (await conn.execute(gate_sql, gate_params)).fetchone() is not None
            return Change(changed, await self._count(conn, tweet_id, column,
                                                     delta if changed else 0))

    async def like(self, tweet_id: int, user_id: int, liked_at: datetime) -> Change:
        return await self._apply(
            f"INSERT INTO {self.schema}.likes (tweet_id, user_id, liked_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1", (tweet_id, user_id, liked_at),
            tweet_id, "likes", 1)

    async def unlike(self, tweet_id: int, user_id: int) -> Change:
        return await self._apply(
            f"DELETE FROM {self.schema}.likes WHERE tweet_id = %s AND user_id = %s RETURNING 1",
            (tweet_id, user_id), tweet_id, "likes", -1)

    async def _retweet_row(self, conn, tweet_id: int, user_id: int):
        return await (await conn.execute(
            f"SELECT active, sort_key FROM {self.schema}.retweets"
            " WHERE tweet_id = %s AND user_id = %s FOR UPDATE", (tweet_id, user_id))).fetchone()

    async def retweet(self, tweet_id: int, user_id: int, sort_key: int) -> tuple[Change, int]:
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._retweet_row(conn, tweet_id, user_id)
            if row is not None and row[0]:
                # Already retweeted: the first retweet keeps its place in time.
                return Change(False, await self._count(conn, tweet_id, "retweets", 0)), row[1]
            await conn.execute(
                f"INSERT INTO {self.schema}.retweets (tweet_id, user_id, sort_key, active)"
                " VALUES (%s, %s, %s, true) ON CONFLICT (tweet_id, user_id)"
                " DO UPDATE SET active = true, sort_key = excluded.sort_key",
                (tweet_id, user_id, sort_key))
            return Change(True, await self._count(conn, tweet_id, "retweets", 1)), sort_key

    async def unretweet(self, tweet_id: int, user_id: int) -> tuple[Change, int | None]:
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._retweet_row(conn, tweet_id, user_id)
            if row is None:
                return Change(False, await self._count(conn, tweet_id, "retweets", 0)), None
            if not row[0]:
                return Change(False, await self._count(conn, tweet_id, "retweets", 0)), row[1]
            await conn.execute(
                f"UPDATE {self.schema}.retweets SET active = false"
                " WHERE tweet_id = %s AND user_id = %s", (tweet_id, user_id))
            return Change(True, await self._count(conn, tweet_id, "retweets", -1)), row[1]

    async def add_reply(self, parent_id: int, reply_id: int) -> Change:
        return await self._apply(
            f"INSERT INTO {self.schema}.replies VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (parent_id, reply_id), parent_id, "replies", 1)

    async def remove_reply(self, parent_id: int, reply_id: int) -> Change:
        return await self._apply(
            f"DELETE FROM {self.schema}.replies WHERE parent_id = %s AND reply_id = %s RETURNING 1",
            (parent_id, reply_id), parent_id, "replies", -1)

    async def counts(self, tweet_ids: list[int]) -> dict[int, Counts]:
        if not tweet_ids:
            return {}
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT tweet_id, likes, retweets, replies FROM {self.schema}.tweet_counts"
                " WHERE tweet_id = ANY(%s)", (list(tweet_ids),))).fetchall()
        return {row[0]: Counts(*row[1:]) for row in rows}

    async def liked(self, user_id: int) -> list[int]:
        return await self._ids(f"SELECT tweet_id FROM {self.schema}.likes WHERE user_id = %s",
                               (user_id,))

    async def retweeted(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT tweet_id FROM {self.schema}.retweets WHERE user_id = %s AND active", (user_id,))

    async def retweets_by(self, user_ids: list[int], limit: int,
                          before: int | None = None) -> list[tuple[int, int, int]]:
        if not user_ids:
            return []
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT sort_key, tweet_id, user_id FROM {self.schema}.retweets"
                " WHERE user_id = ANY(%s) AND active AND sort_key < %s"
                " ORDER BY sort_key DESC LIMIT %s",
                (list(user_ids), before or 2**63 - 1, limit))).fetchall()
        return [tuple(row) for row in rows]

    async def likers(self, tweet_id: int, limit: int) -> list[int]:
        return await self._ids(
            f"SELECT user_id FROM {self.schema}.likes WHERE tweet_id = %s"
            " ORDER BY liked_at, user_id LIMIT %s", (tweet_id, limit))
