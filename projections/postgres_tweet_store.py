"""The tweet store in PostgreSQL (the embedded default).

Conversations are walked with recursive CTEs, one statement each way: up the `reply_to`
links by primary key, down them by `tweets_by_parent`. Descendants are ordered by their path
of ids from the tweet (an array: comparing arrays element by element is a depth-first order,
siblings oldest first), so a page resumes after the path of its cursor's tweet; each page
walks the whole subtree below the tweet (up to MAX_THREAD_DEPTH levels), which is cheap for
conversations and grows with them.
"""

from __future__ import annotations

from psycopg.rows import args_row

from projections.postgres_store import PostgresStore, columns_of
from projections.tweet_store import StoredTweet, ThreadTweet, TweetState

# How far up or down a conversation is walked: deeper threads end there (no reply chain
# this long is read by anyone, and the bound keeps a single statement's work bounded).
MAX_THREAD_DEPTH = 1000

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
-- Added in 0.x (quote tweets and mentions): rows stored before have none.
ALTER TABLE {schema}.tweets ADD COLUMN IF NOT EXISTS quote_of bigint;
ALTER TABLE {schema}.tweets ADD COLUMN IF NOT EXISTS mentioned_ids bigint[] NOT NULL
    DEFAULT '{{}}';
CREATE INDEX IF NOT EXISTS tweets_by_quoted ON {schema}.tweets (quote_of, tweet_id)
    WHERE quote_of IS NOT NULL;
"""

_COLUMNS = "tweet_id, author_id, content, created_at, reply_to, deleted, quote_of, mentioned_ids"


def _stored(
    tweet_id, author_id, content, created_at, reply_to, deleted, quote_of, mentioned_ids
) -> StoredTweet:
    return StoredTweet(
        tweet_id, author_id, content, created_at, reply_to, deleted, quote_of, tuple(mentioned_ids)
    )


class PostgresTweetStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    async def states(self, tweet_ids: list[int], conn=None) -> dict[int, TweetState]:
        if not tweet_ids:
            return {}
        rows = await (
            await conn.execute(
                f"SELECT tweet_id, deleted, reply_to, quote_of FROM {self.schema}.tweets"
                " WHERE tweet_id = ANY(%s) FOR UPDATE",
                (list(tweet_ids),),
            )
        ).fetchall()
        return {tweet_id: TweetState(*state) for tweet_id, *state in rows}

    async def erase_authors(self, author_ids: list[int], conn=None) -> list[int]:
        if not author_ids:
            return []
        cursor = await conn.execute(
            f"DELETE FROM {self.schema}.tweets WHERE author_id = ANY(%s) RETURNING tweet_id",
            (sorted(author_ids),),
        )
        return [row[0] for row in await cursor.fetchall()]

    async def write(self, new_rows: list[StoredTweet], deletions: list[int], conn=None) -> None:
        if new_rows:
            await conn.execute(
                f"INSERT INTO {self.schema}.tweets ({_COLUMNS})"
                " SELECT t, a, c, at, r, d, q, m::bigint[] FROM unnest(%b::bigint[], %b::bigint[],"
                " %b::text[], %b::timestamptz[], %b::bigint[], %b::boolean[], %b::bigint[],"
                # One array per row: unnest would flatten a 2-D array, so each goes as text.
                " %b::text[]) AS u(t, a, c, at, r, d, q, m)"
                # Deleted stays deleted: a tombstone is never revived.
                " ON CONFLICT (tweet_id) DO UPDATE"
                f" SET deleted = {self.schema}.tweets.deleted OR excluded.deleted",
                columns_of(
                    [
                        (
                            t.tweet_id,
                            t.author_id,
                            t.content,
                            t.created_at,
                            t.reply_to,
                            t.deleted,
                            t.quote_of,
                            "{" + ",".join(map(str, t.mentioned_ids)) + "}",
                        )
                        for t in sorted(new_rows, key=lambda t: t.tweet_id)
                    ],
                    8,
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
            cursor = conn.cursor(row_factory=args_row(_stored))
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

    async def quotes(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        return await self._select(
            "quote_of = %s AND tweet_id > %s", (tweet_id, after or 0), "tweet_id", limit
        )

    async def ancestors(self, tweet_id: int, limit: int) -> list[ThreadTweet]:
        # Each step goes to the previous step's parent, stored or not (then: as deleted).
        sql = f"""
            WITH RECURSIVE up(tweet_id, reply_to, deleted, depth) AS (
                SELECT t.reply_to, p.reply_to, coalesce(p.deleted, true), 1
                FROM {self.schema}.tweets t LEFT JOIN {self.schema}.tweets p
                    ON p.tweet_id = t.reply_to
                WHERE t.tweet_id = %(tweet)s AND t.reply_to IS NOT NULL
              UNION ALL
                SELECT up.reply_to, p.reply_to, coalesce(p.deleted, true), up.depth + 1
                FROM up LEFT JOIN {self.schema}.tweets p ON p.tweet_id = up.reply_to
                WHERE up.reply_to IS NOT NULL AND up.depth < %(limit)s
            )
            SELECT tweet_id, deleted, reply_to FROM up ORDER BY depth DESC"""
        return await self._thread(sql, {"tweet": tweet_id, "limit": min(limit, MAX_THREAD_DEPTH)})

    async def descendants(self, tweet_id: int, after: int | None, limit: int) -> list[ThreadTweet]:
        sql = f"""
            WITH RECURSIVE down(tweet_id, deleted, reply_to, path) AS (
                SELECT tweet_id, deleted, reply_to, ARRAY[tweet_id] FROM {self.schema}.tweets
                WHERE reply_to = %(tweet)s
              UNION ALL
                SELECT t.tweet_id, t.deleted, t.reply_to, down.path || t.tweet_id
                FROM down JOIN {self.schema}.tweets t ON t.reply_to = down.tweet_id
                WHERE cardinality(down.path) < %(depth)s
            )
            SELECT d.tweet_id, d.deleted, d.reply_to FROM down d
            WHERE (NOT d.deleted OR EXISTS (
                    SELECT 1 FROM {self.schema}.tweets c WHERE c.reply_to = d.tweet_id))
                AND (%(after)s::bigint IS NULL
                     OR d.path > (SELECT path FROM down WHERE tweet_id = %(after)s))
            ORDER BY d.path LIMIT %(limit)s"""
        return await self._thread(
            sql, {"tweet": tweet_id, "after": after, "limit": limit, "depth": MAX_THREAD_DEPTH}
        )

    async def _thread(self, sql: str, params: dict) -> list[ThreadTweet]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()
        return [ThreadTweet(*row) for row in rows]
