"""The social graph in PostgreSQL: users (with counts) and follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from psycopg.rows import class_row

from projections.graph import Profile
from projections.postgres_store import PostgresStore

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.users (
    user_id         bigint PRIMARY KEY,
    username        text NOT NULL,
    display_name    text NOT NULL,
    bio             text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
-- Counts live apart from users: events of different topics arrive in no fixed order, so a
-- follow may be applied before its follower's registration.
CREATE TABLE IF NOT EXISTS {schema}.user_counts (
    user_id         bigint PRIMARY KEY,
    followers_count integer NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    tweet_count     integer NOT NULL DEFAULT 0 CHECK (tweet_count >= 0),
    -- Set once fan-out skipped one of this user's tweets: readers merge this author's recents.
    pulled          boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS {schema}.follows (
    follower_id bigint NOT NULL,
    followee_id bigint NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX IF NOT EXISTS follows_by_followee ON {schema}.follows (followee_id, follower_id);
-- Which tweets an author's tweet_count includes: gates the count against redelivery.
CREATE TABLE IF NOT EXISTS {schema}.counted_tweets (
    tweet_id  bigint PRIMARY KEY,
    author_id bigint NOT NULL,
    deleted   boolean NOT NULL DEFAULT false
);
"""


class PostgresGraphStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    async def add_user(self, user_id: int, username: str, display_name: str, bio: str,
                       created_at: datetime) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO {self.schema}.users (user_id, username, display_name, bio, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING",
                (user_id, username, display_name, bio, created_at))

    async def update_profile(self, user_id: int, display_name: str | None, bio: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                f"UPDATE {self.schema}.users SET display_name = coalesce(%s, display_name),"
                " bio = coalesce(%s, bio) WHERE user_id = %s", (display_name, bio, user_id))

    async def _move_edge(self, sql: str, follower_id: int, followee_id: int, delta: int) -> bool:
        # The edge change and both counts commit together, and the counts move only when the
        # edge really changed: redelivered follows and unfollows leave counts as they were.
        async with self.pool.connection() as conn, conn.transaction():
            changed = await (await conn.execute(sql, (follower_id, followee_id))).fetchone()
            if changed:
                # Both rows in id order, so that concurrent follows cannot deadlock.
                updates = sorted([(follower_id, "following_count"), (followee_id, "followers_count")])
                for user_id, column in updates:
                    await self._add(conn, user_id, column, delta)
            return changed is not None

    async def _add(self, conn, user_id: int, column: str, delta: int) -> None:
        # CHECK constraints apply to the proposed row too, so it never carries a negative.
        await conn.execute(
            f"INSERT INTO {self.schema}.user_counts (user_id, {column}) VALUES (%s, greatest(%s, 0))"
            f" ON CONFLICT (user_id) DO UPDATE SET {column} = {self.schema}.user_counts.{column} + %s",
            (user_id, delta, delta))

    async def follow(self, follower_id: int, followee_id: int) -> bool:
        return await self._move_edge(
            f"INSERT INTO {self.schema}.follows VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            follower_id, followee_id, 1)

    async def unfollow(self, follower_id: int, followee_id: int) -> bool:
        return await self._move_edge(
            f"DELETE FROM {self.schema}.follows WHERE follower_id = %s AND followee_id = %s"
            " RETURNING 1", follower_id, followee_id, -1)

    async def count_tweet(self, author_id: int, tweet_id: int, delta: int) -> None:
        if delta > 0:
            gate = (f"INSERT INTO {self.schema}.counted_tweets VALUES (%s, %s, false)"
                    " ON CONFLICT DO NOTHING RETURNING 1")
        else:
            gate = (f"UPDATE {self.schema}.counted_tweets SET deleted = true"
                    " WHERE tweet_id = %s AND author_id = %s AND NOT deleted RETURNING 1")
        async with self.pool.connection() as conn, conn.transaction():
            if await (await conn.execute(gate, (tweet_id, author_id))).fetchone():
                await self._add(conn, author_id, "tweet_count", delta)

    async def mark_pulled(self, user_id: int) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO {self.schema}.user_counts (user_id, pulled) VALUES (%s, true)"
                " ON CONFLICT (user_id) DO UPDATE SET pulled = true"
                f" WHERE NOT {self.schema}.user_counts.pulled", (user_id,))

    async def pulled_authors(self) -> list[int]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT user_id FROM {self.schema}.user_counts WHERE pulled")).fetchall()
        return [row[0] for row in rows]

    async def profiles(self, user_ids: list[int]) -> dict[int, Profile]:
        if not user_ids:
            return {}
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(Profile))
            await cursor.execute(
                "SELECT u.user_id, username, display_name, bio, created_at,"
                " coalesce(followers_count, 0) AS followers_count,"
                " coalesce(following_count, 0) AS following_count,"
                " coalesce(tweet_count, 0) AS tweet_count"
                f" FROM {self.schema}.users u LEFT JOIN {self.schema}.user_counts c"
                " ON c.user_id = u.user_id WHERE u.user_id = ANY(%s)", (list(user_ids),))
            return {row.user_id: row for row in await cursor.fetchall()}

    async def follower_count(self, user_id: int) -> int:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                f"SELECT followers_count FROM {self.schema}.user_counts WHERE user_id = %s",
                (user_id,))).fetchone()
        return row[0] if row else 0

    async def followers(self, user_id: int, batch_size: int) -> AsyncIterator[list[int]]:
        after = 0
        while True:
            batch = await self.follower_page(user_id, after, batch_size)
            if batch:
                yield batch
            if len(batch) < batch_size:
                return
            after = batch[-1]

    async def following(self, user_id: int) -> list[int]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT followee_id FROM {self.schema}.follows WHERE follower_id = %s",
                (user_id,))).fetchall()
        return [row[0] for row in rows]

    async def _page(self, sql: str, user_id: int, after: int | None, limit: int) -> list[int]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, (user_id, after or 0, limit))).fetchall()
        return [row[0] for row in rows]

    async def follower_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT follower_id FROM {self.schema}.follows WHERE followee_id = %s"
            " AND follower_id > %s ORDER BY follower_id LIMIT %s", user_id, after, limit)

    async def following_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        return await self._page(
            f"SELECT followee_id FROM {self.schema}.follows WHERE follower_id = %s"
            " AND followee_id > %s ORDER BY followee_id LIMIT %s", user_id, after, limit)
