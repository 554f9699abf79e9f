"""The tweet store in Cassandra (production): partitioned by author, clustered by id DESC."""

from __future__ import annotations

import asyncio
import heapq
from datetime import UTC, datetime
from typing import Any

from projections.tweet_store import StoredTweet, TweetState

SCHEMA_CQL = [
    "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication ="
    " {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}",
    "CREATE TABLE IF NOT EXISTS {ks}.tweets_by_id (tweet_id bigint PRIMARY KEY, author_id bigint,"
    " content text, created_at timestamp, reply_to bigint, deleted boolean)",
    # The seeds' layout: one partition per author, newest tweet first.
    "CREATE TABLE IF NOT EXISTS {ks}.tweets_by_author (author_id bigint, tweet_id bigint,"
    " content text, created_at timestamp, reply_to bigint, deleted boolean,"
    " PRIMARY KEY ((author_id), tweet_id)) WITH CLUSTERING ORDER BY (tweet_id DESC)",
    "CREATE TABLE IF NOT EXISTS {ks}.replies_by_parent (parent_id bigint, tweet_id bigint,"
    " PRIMARY KEY ((parent_id), tweet_id)) WITH CLUSTERING ORDER BY (tweet_id ASC)",
]
_MAX_ID = 2**63 - 1


class CassandraTweetStore:
    """TweetStore over the DataStax driver; each call runs as the driver's async request."""

    def __init__(
        self, hosts: list[str], keyspace: str = "chirp", replication_factor: int = 1
    ) -> None:
        try:
            from cassandra.cluster import Cluster
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "The Cassandra tweet store needs the `cassandra` extra: "
                "pip install -e '.[cassandra]'",
                name=error.name,
            ) from error

        self.keyspace = keyspace
        self.replication_factor = replication_factor
        self._cluster = Cluster(
            [host.split(":")[0] for host in hosts],
            port=int(hosts[0].split(":")[1]) if ":" in hosts[0] else 9042,
        )
        self._session: Any = None  # a cassandra.cluster.Session once connected

    async def _run(self, query: str, params: tuple = ()):
        if self._session is None:
            self._session = await asyncio.to_thread(self._cluster.connect)
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        request = self._session.execute_async(query, params)
        request.add_callbacks(
            lambda rows: loop.call_soon_threadsafe(_settle, done, rows, None),
            lambda error: loop.call_soon_threadsafe(_settle, done, None, error),
        )
        return list(await done)

    async def setup(self) -> None:
        for statement in SCHEMA_CQL:
            await self._run(statement.format(ks=self.keyspace, rf=self.replication_factor))

    async def states(self, tweet_ids: list[int], conn=None) -> dict[int, TweetState]:
        if not tweet_ids:
            return {}
        rows = await self._run(
            f"SELECT tweet_id, deleted, reply_to FROM {self.keyspace}.tweets_by_id"
            " WHERE tweet_id IN %s",
            (tuple(tweet_ids),),
        )
        return {row.tweet_id: TweetState(bool(row.deleted), row.reply_to) for row in rows}

    async def write(self, new_rows: list[StoredTweet], deletions: list[int], conn=None) -> None:
        # Each tweet's statements in order, tweets side by side (the driver's requests).
        async def one(tweet: StoredTweet) -> None:
            await self._save(tweet)
            if tweet.deleted:
                await self._delete(tweet.tweet_id, tweet.author_id)

        stored = (
            await self._run(
                f"SELECT tweet_id, author_id FROM {self.keyspace}.tweets_by_id"
                " WHERE tweet_id IN %s",
                (tuple(deletions),),
            )
            if deletions
            else []
        )
        await asyncio.gather(
            *(one(tweet) for tweet in new_rows),
            *(self._delete(row.tweet_id, row.author_id) for row in stored),
        )

    async def newest_by_each(
        self, author_ids: list[int], limit: int, conn=None
    ) -> dict[int, list[int]]:
        newest = await asyncio.gather(
            *(self.by_author(author, None, limit) for author in author_ids)
        )
        return {
            author: [tweet.tweet_id for tweet in tweets]
            for author, tweets in zip(author_ids, newest, strict=True)
        }

    async def _save(self, tweet: StoredTweet) -> bool:
        ks = self.keyspace
        [applied] = await self._run(
            f"INSERT INTO {ks}.tweets_by_id (tweet_id, author_id, content, created_at, reply_to,"
            " deleted) VALUES (%s, %s, %s, %s, %s, false) IF NOT EXISTS",
            (tweet.tweet_id, tweet.author_id, tweet.content, tweet.created_at, tweet.reply_to),
        )
        if not applied[0]:
            return not applied.deleted
        await self._run(
            f"INSERT INTO {ks}.tweets_by_author"
            " (author_id, tweet_id, content, created_at, reply_to, deleted)"
            " VALUES (%s, %s, %s, %s, %s, false)",
            (tweet.author_id, tweet.tweet_id, tweet.content, tweet.created_at, tweet.reply_to),
        )
        if tweet.reply_to is not None:
            await self._run(
                f"INSERT INTO {ks}.replies_by_parent (parent_id, tweet_id) VALUES (%s, %s)",
                (tweet.reply_to, tweet.tweet_id),
            )
        return True

    async def _delete(self, tweet_id: int, author_id: int) -> int | None:
        ks = self.keyspace
        rows = await self._run(
            f"SELECT reply_to FROM {ks}.tweets_by_id WHERE tweet_id = %s", (tweet_id,)
        )
        reply_to = rows[0].reply_to if rows else None
        # Upserts: a deletion without its post still leaves a tombstone.
        await self._run(
            f"UPDATE {ks}.tweets_by_id SET deleted = true, author_id = %s WHERE tweet_id = %s",
            (author_id, tweet_id),
        )
        await self._run(
            f"UPDATE {ks}.tweets_by_author SET deleted = true"
            " WHERE author_id = %s AND tweet_id = %s",
            (author_id, tweet_id),
        )
        if reply_to is not None:
            await self._run(
                f"DELETE FROM {ks}.replies_by_parent WHERE parent_id = %s AND tweet_id = %s",
                (reply_to, tweet_id),
            )
        return reply_to

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        if not tweet_ids:
            return {}
        rows = await self._run(
            f"SELECT tweet_id, author_id, content, created_at, reply_to, deleted"
            f" FROM {self.keyspace}.tweets_by_id WHERE tweet_id IN %s",
            (tuple(tweet_ids),),
        )
        return {
            row.tweet_id: _tweet(row) for row in rows if not row.deleted and row.content is not None
        }

    async def parents(self, tweet_ids: list[int]) -> dict[int, int]:
        if not tweet_ids:
            return {}
        rows = await self._run(
            f"SELECT tweet_id, reply_to FROM {self.keyspace}.tweets_by_id WHERE tweet_id IN %s",
            (tuple(tweet_ids),),
        )
        return {row.tweet_id: row.reply_to for row in rows if row.reply_to is not None}

    async def by_author(self, author_id: int, before: int | None, limit: int) -> list[StoredTweet]:
        found: list[StoredTweet] = []
        cursor = before or _MAX_ID
        while len(found) < limit:
            rows = await self._run(
                f"SELECT tweet_id, author_id, content, created_at, reply_to, deleted"
                f" FROM {self.keyspace}.tweets_by_author WHERE author_id = %s AND tweet_id < %s"
                " LIMIT %s",
                (author_id, cursor, limit),
            )
            found += [_tweet(row) for row in rows if not row.deleted]
            if len(rows) < limit:
                break
            cursor = rows[-1].tweet_id
        return found[:limit]

    async def by_authors(
        self, author_ids: list[int], before: int | None, limit: int
    ) -> list[StoredTweet]:
        # One partition per author: read each author's newest, merge newest first.
        per_author = await asyncio.gather(*(self.by_author(a, before, limit) for a in author_ids))
        merged = heapq.merge(*per_author, key=lambda tweet: tweet.tweet_id, reverse=True)
        return [tweet for _, tweet in zip(range(limit), merged, strict=False)]

    async def replies(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        rows = await self._run(
            f"SELECT tweet_id FROM {self.keyspace}.replies_by_parent WHERE parent_id = %s"
            " AND tweet_id > %s LIMIT %s",
            (tweet_id, after or 0, limit),
        )
        found = await self.get_many([row.tweet_id for row in rows])
        return [found[row.tweet_id] for row in rows if row.tweet_id in found]

    async def close(self) -> None:
        await asyncio.to_thread(self._cluster.shutdown)


def _tweet(row) -> StoredTweet:
    created = row.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # the driver returns naive UTC
    return StoredTweet(
        row.tweet_id,
        row.author_id,
        row.content,
        created or datetime.now(UTC),
        row.reply_to,
        bool(row.deleted),
    )


def _settle(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
