"""Likes, retweets, replies, quotes and their counts in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from projections.engagements import Counts, RetweetRow
from projections.postgres_store import PostgresStore, changed, columns_of, move_counts

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
CREATE TABLE IF NOT EXISTS {schema}.quotes (
    quoted_id bigint NOT NULL,
    quote_id  bigint NOT NULL,
    PRIMARY KEY (quoted_id, quote_id)
);
CREATE TABLE IF NOT EXISTS {schema}.tweet_counts (
    tweet_id bigint PRIMARY KEY,
    likes    integer NOT NULL DEFAULT 0 CHECK (likes >= 0),
    retweets integer NOT NULL DEFAULT 0 CHECK (retweets >= 0),
    replies  integer NOT NULL DEFAULT 0 CHECK (replies >= 0)
);
ALTER TABLE {schema}.tweet_counts ADD COLUMN IF NOT EXISTS
    quotes integer NOT NULL DEFAULT 0 CHECK (quotes >= 0);
"""
_COUNTS = ("likes", "retweets", "replies", "quotes")


class PostgresEngagementStore(PostgresStore):
    schema_sql = SCHEMA_SQL

    # --- a batch's writes, in the batch's transaction (agents/core.py) ---------------------

    async def retweet_rows(
        self, conn, keys: set[tuple[int, int]]
    ) -> dict[tuple[int, int], RetweetRow]:
        """The stored (tweet, user) retweet rows among `keys`, locked for the batch."""
        if not keys:
            return {}
        rows = await (
            await conn.execute(
                f"SELECT r.tweet_id, r.user_id, r.sort_key, r.active FROM {self.schema}.retweets r"
                " JOIN unnest(%b::bigint[], %b::bigint[]) AS d(tweet_id, user_id)"
                " ON r.tweet_id = d.tweet_id AND r.user_id = d.user_id"
                " ORDER BY r.tweet_id, r.user_id FOR UPDATE OF r",
                columns_of(sorted(keys), 2),
            )
        ).fetchall()
        return {
            (tweet_id, user_id): RetweetRow(sort_key, active)
            for tweet_id, user_id, sort_key, active in rows
        }

    async def write_likes(
        self, conn, unlikes: set[tuple[int, int]], likes: dict[tuple[int, int], datetime]
    ) -> list[tuple[int, int]]:
        """Delete the `unlikes` rows, then insert the `likes` rows not there yet; return
        (tweet, +1 or -1) for each row that really changed."""
        moved = []
        if unlikes:
            moved += await changed(
                conn,
                f"DELETE FROM {self.schema}.likes l USING unnest(%b::bigint[], %b::bigint[])"
                " AS d(tweet_id, user_id) WHERE l.tweet_id = d.tweet_id AND l.user_id = d.user_id"
                " RETURNING l.tweet_id",
                columns_of(sorted(unlikes), 2),
                -1,
            )
        if likes:
            moved += await changed(
                conn,
                f"INSERT INTO {self.schema}.likes (tweet_id, user_id, liked_at)"
                " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::timestamptz[])"
                " ON CONFLICT DO NOTHING RETURNING tweet_id",
                columns_of(sorted((*key, at) for key, at in likes.items()), 3),
                1,
            )
        return moved

    async def write_retweets(self, conn, rows: dict[tuple[int, int], RetweetRow]) -> None:
        if rows:
            await conn.execute(
                f"INSERT INTO {self.schema}.retweets (tweet_id, user_id, sort_key, active)"
                " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::boolean[])"
                " ON CONFLICT (tweet_id, user_id)"
                " DO UPDATE SET sort_key = excluded.sort_key, active = excluded.active",
                columns_of(
                    sorted((*key, row.sort_key, row.active) for key, row in rows.items()), 4
                ),
            )

    async def write_replies(
        self, conn, replies: set[tuple[int, int]], unreplies: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Add the (parent, reply) `replies` not there yet, then remove `unreplies`; return
        (parent, +1 or -1) for each row that really changed."""
        return await self._write_links(
            conn, "replies", ("parent_id", "reply_id"), replies, unreplies
        )

    async def write_quotes(
        self, conn, quotes: set[tuple[int, int]], unquotes: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Add the (quoted, quote) `quotes` not there yet, then remove `unquotes`; return
        (quoted, +1 or -1) for each row that really changed."""
        return await self._write_links(conn, "quotes", ("quoted_id", "quote_id"), quotes, unquotes)

    async def _write_links(
        self,
        conn,
        table: str,
        columns: tuple[str, str],
        added: set[tuple[int, int]],
        removed: set[tuple[int, int]],
    ) -> list[tuple[int, int]]:
        """Insert the `added` (target, source) rows of a link table, then delete `removed`:
        (target, +1 or -1) for each row that really changed."""
        target, source = columns
        moved = []
        if added:
            moved += await changed(
                conn,
                f"INSERT INTO {self.schema}.{table}"
                " SELECT * FROM unnest(%b::bigint[], %b::bigint[])"
                f" ON CONFLICT DO NOTHING RETURNING {target}",
                columns_of(sorted(added), 2),
                1,
            )
        if removed:
            moved += await changed(
                conn,
                f"DELETE FROM {self.schema}.{table} r USING unnest(%b::bigint[], %b::bigint[])"
                f" AS d({target}, {source}) WHERE r.{target} = d.{target}"
                f" AND r.{source} = d.{source} RETURNING r.{target}",
                columns_of(sorted(removed), 2),
                -1,
            )
        return moved

    async def move_counts(self, conn, deltas: dict[int, tuple[int, int, int, int]]) -> None:
        """Move tweets' (likes, retweets, replies, quotes) counts by these deltas, never below
        0; a tweet whose counts are all 0 has no row."""
        await move_counts(
            conn, f"{self.schema}.tweet_counts", "tweet_id", _COUNTS, deltas, floor=True
        )

    # --- reads ------------------------------------------------------------------------------

    async def counts(self, tweet_ids: list[int], conn=None) -> dict[int, Counts]:
        """Counts of those of `tweet_ids` that have any (`conn`: in that transaction)."""
        if not tweet_ids:
            return {}
        sql = (
            f"SELECT tweet_id, {', '.join(_COUNTS)} FROM {self.schema}.tweet_counts"
            " WHERE tweet_id = ANY(%s)"
        )
        if conn is None:
            async with self.pool.connection() as conn:
                rows = await (await conn.execute(sql, (list(tweet_ids),))).fetchall()
        else:
            rows = await (await conn.execute(sql, (list(tweet_ids),))).fetchall()
        return {row[0]: Counts(*row[1:]) for row in rows}

    async def liked(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT tweet_id FROM {self.schema}.likes WHERE user_id = %s", (user_id,)
        )

    async def retweeted(self, user_id: int) -> list[int]:
        return await self._ids(
            f"SELECT tweet_id FROM {self.schema}.retweets WHERE user_id = %s AND active", (user_id,)
        )

    async def retweets_by(
        self, user_ids: list[int], limit: int, before: int | None = None
    ) -> list[tuple[int, int, int]]:
        if not user_ids:
            return []
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT sort_key, tweet_id, user_id FROM {self.schema}.retweets"
                    " WHERE user_id = ANY(%s) AND active AND sort_key < %s"
                    " ORDER BY sort_key DESC LIMIT %s",
                    (list(user_ids), before or 2**63 - 1, limit),
                )
            ).fetchall()
        return [tuple(row) for row in rows]

    async def likers(self, tweet_id: int, limit: int) -> list[int]:
        return await self._ids(
            f"SELECT user_id FROM {self.schema}.likes WHERE tweet_id = %s"
            " ORDER BY liked_at, user_id LIMIT %s",
            (tweet_id, limit),
        )
