"""The tweet store in PostgreSQL (the embedded default)."""

from __future__ import annotations

from psycopg.rows import class_row

from projections.tweet_store import StoredTweet
from projections.postgres_store import PostgresStore

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.tweets (
    tweet_id   bigint PRIMARY KEY,
    author_id  bigint NOT NULL,
    content    text NOT NULL,
    created_at timestamptz NOT NULL,
    reply_to   bigint,
    deleted    boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS tweets_by_author ON {schema}.tweets (author_id, tweet_id DESC);
CREATE INDEX IF NOT EXISTS tweets_by_parent ON {schema}.tweets (reply_to, tweet_id)
    WHERE reply_to IS NOT NULL;
"""

_COLUMNS = "tweet_id, author_id, content, created_at, reply_to, deleted"


class PostgresTweetStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    async def save(self, tweet: StoredTweet) -> bool:
        async with self.pool.connection() as conn:
            inserted = await (await conn.execute(
                f"INSERT INTO {self.schema}.tweets ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, false)"
                " ON CONFLICT (tweet_id) DO NOTHING RETURNING 1",
                (tweet.tweet_id, tweet.author_id, tweet.content, tweet.created_at,
                 tweet.reply_to))).fetchone()
            if inserted:
                return True
            row = await (await conn.execute(
                f"SELECT deleted FROM {self.schema}.tweets WHERE tweet_id = %s",
                (tweet.tweet_id,))).fetchone()
        return not row[0]

    async def delete(self, tweet_id: int, author_id: int) -> int | None:
        # A deletion read from a partial log may come without its post: keep a tombstone.
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                f"INSERT INTO {self.schema}.tweets ({_COLUMNS})"
                " VALUES (%s, %s, '', now(), NULL, true)"
                " ON CONFLICT (tweet_id) DO UPDATE SET deleted = true RETURNING reply_to",
                (tweet_id, author_id))).fetchone()
        return row[0]

    async def _select(self, where: str, params: tuple, order: str, limit: int) -> list[StoredTweet]:
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(StoredTweet))
            await cursor.execute(
                f"SELECT {_COLUMNS} FROM {self.schema}.tweets WHERE NOT deleted AND {where}"
                f" ORDER BY {order} LIMIT %s", (*params, limit))
            return await cursor.fetchall()

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        if not tweet_ids:
            return {}
        rows = await self._select("tweet_id = ANY(%s)", (list(tweet_ids),), "tweet_id", len(tweet_ids))
        return {row.tweet_id: row for row in rows}

    async def parents(self, tweet_ids: list[int]) -> dict[int, int]:
        if not tweet_ids:
            return {}
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                f"SELECT tweet_id, reply_to FROM {self.schema}.tweets"
                " WHERE tweet_id = ANY(%s) AND reply_to IS NOT NULL", (list(tweet_ids),))).fetchall()
        return dict(rows)

    async def by_author(self, author_id: int, before: int | None, limit: int) -> list[StoredTweet]:
        return await self._select("author_id = %s AND tweet_id < %s",
                                  (author_id, before or 2**63 - 1), "tweet_id DESC", limit)

    async def by_authors(self, author_ids: list[int], before: int | None,
                         limit: int) -> list[StoredTweet]:
        if not author_ids:
            return []
        return await self._select("author_id = ANY(%s) AND tweet_id < %s",
                                  (list(author_ids), before or 2**63 - 1), "tweet_id DESC", limit)

    async def replies(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        return await self._select("reply_to = %s AND tweet_id > %s", (tweet_id, after or 0),
                                  "tweet_id", limit)
