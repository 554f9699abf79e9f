"""The tweet store in PostgreSQL (the embedded default)."""

from __future__ import annotations

from psycopg.rows import class_row

from projections.postgres_store import PostgresStore, columns_of
from projections.tweet_store import StoredTweet, TweetState

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

    async def states(self, tweet_ids: list[int], conn=None) -> dict[int, TweetState]:
        if not tweet_ids:
            return {}
        rows = await (
            await conn.execute(
                f"SELECT tweet_id, deleted, reply_to FROM {self.schema}.tweets"
                " WHERE tweet_id = ANY(%s) FOR UPDATE",
                (list(tweet_ids),),
            )
        ).fetchall()
        return {tweet_id: TweetState(deleted, reply_to) for tweet_id, deleted, reply_to in rows}

    async def write(self, new_rows: list[StoredTweet], deletions: list[int], conn=None) -> None:
        if new_rows:
            await conn.execute(
                f"INSERT INTO {self.schema}.tweets ({_COLUMNS}) SELECT * FROM unnest(%b::bigint[],"
                " %b::bigint[], %b::text[], %b::timestamptz[], %b::bigint[], %b::boolean[])"
                # Deleted stays deleted: a tombstone is never revived.
                " ON CONFLICT (tweet_id) DO UPDATE"
                f" SET deleted = {self.schema}.tweets.deleted OR excluded.deleted",
                columns_of(
                    [
                        (t.tweet_id, t.author_id, t.content, t.created_at, t.reply_to, t.deleted)
                        for t in sorted(new_rows, key=lambda t: t.tweet_id)
                    ],
                    6,
                ),
            )
        if deletions:
            await conn.execute(
                f"UPDATE {self.schema}.tweets SET deleted = true WHERE tweet_id = ANY(%s)",
                (sorted(deletions),),
            )

    async def newest_by_each(
        self, author_ids: list[int], limit: int, conn=None
    ) -> dict[int, list[int]]:
        """Each author's newest live tweet ids, newest first, at most `limit` each."""
        if not author_ids:
            return {}
        rows = await (
            await conn.execute(
                "SELECT a.author_id, t.tweet_id FROM unnest(%b::bigint[]) AS a(author_id)"
                f" CROSS JOIN LATERAL (SELECT tweet_id FROM {self.schema}.tweets"
                " WHERE author_id = a.author_id AND NOT deleted ORDER BY tweet_id DESC LIMIT %s) t",
                (list(author_ids), limit),
            )
        ).fetchall()
        newest: dict[int, list[int]] = {author_id: [] for author_id in author_ids}
        for author_id, tweet_id in rows:
            newest[author_id].append(tweet_id)
        return newest

    async def _select(self, where: str, params: tuple, order: str, limit: int) -> list[StoredTweet]:
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=class_row(StoredTweet))
            await cursor.execute(
                f"SELECT {_COLUMNS} FROM {self.schema}.tweets WHERE NOT deleted AND {where}"
                f" ORDER BY {order} LIMIT %s",
                (*params, limit),
            )
            return await cursor.fetchall()

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        if not tweet_ids:
            return {}
        rows = await self._select(
            "tweet_id = ANY(%s)", (list(tweet_ids),), "tweet_id", len(tweet_ids)
        )
        return {row.tweet_id: row for row in rows}

    async def parents(self, tweet_ids: list[int]) -> dict[int, int]:
        if not tweet_ids:
            return {}
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT tweet_id, reply_to FROM {self.schema}.tweets"
                    " WHERE tweet_id = ANY(%s) AND reply_to IS NOT NULL",
                    (list(tweet_ids),),
                )
            ).fetchall()
        return dict(rows)

    async def by_author(self, author_id: int, before: int | None, limit: int) -> list[StoredTweet]:
        return await self._select(
            "author_id = %s AND tweet_id < %s",
            (author_id, before or 2**63 - 1),
            "tweet_id DESC",
            limit,
        )

    async def by_authors(
        self, author_ids: list[int], before: int | None, limit: int
    ) -> list[StoredTweet]:
        if not author_ids:
            return []
        return await self._select(
            "author_id = ANY(%s) AND tweet_id < %s",
            (list(author_ids), before or 2**63 - 1),
            "tweet_id DESC",
            limit,
        )

    async def replies(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        return await self._select(
            "reply_to = %s AND tweet_id > %s", (tweet_id, after or 0), "tweet_id", limit
        )
