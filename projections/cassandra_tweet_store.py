"""The tweet store in Cassandra (production): partitioned by author, clustered by id DESC.

Conversations are walked link by link (one request per tweet up the chain, one per tweet
with replies down it): Cassandra has no recursive queries. `replies_by_parent` drops a
deleted reply, so the replies below a deleted reply are not reached from above (PostgreSQL
shows the deleted reply as a placeholder with its replies below it).
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from projections.tweet_store import StoredTweet, ThreadTweet, TweetState

SCHEMA_CQL = [
    "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {replication}",
    "CREATE TABLE IF NOT EXISTS {ks}.tweets_by_id (tweet_id bigint PRIMARY KEY, author_id bigint,"
    " content text, created_at timestamp, reply_to bigint, deleted boolean)",
    # The seeds' layout: one partition per author, newest tweet first.
    "CREATE TABLE IF NOT EXISTS {ks}.tweets_by_author (author_id bigint, tweet_id bigint,"
    " content text, created_at timestamp, reply_to bigint, deleted boolean,"
    " PRIMARY KEY ((author_id), tweet_id)) WITH CLUSTERING ORDER BY (tweet_id DESC)",
    "CREATE TABLE IF NOT EXISTS {ks}.replies_by_parent (parent_id bigint, tweet_id bigint,"
    " PRIMARY KEY ((parent_id), tweet_id)) WITH CLUSTERING ORDER BY (tweet_id ASC)",
    "CREATE TABLE IF NOT EXISTS {ks}.quotes_by_quoted (quoted_id bigint, tweet_id bigint,"
    " PRIMARY KEY ((quoted_id), tweet_id)) WITH CLUSTERING ORDER BY (tweet_id ASC)",
    # Quote tweets and mentions came later: ADD IF NOT EXISTS needs Cassandra 4.1 (CQL 3.4.6).
    *(
        f"ALTER TABLE {{ks}}.{table} ADD IF NOT EXISTS quote_of bigint, mentioned_ids list<bigint>"
        for table in ("tweets_by_id", "tweets_by_author")
    ),
]
_TWEET_COLUMNS = (
    "tweet_id, author_id, content, created_at, reply_to, deleted, quote_of, mentioned_ids"
)
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class CassandraOptions:
    """How the store reaches the cluster (CHIRP_CASSANDRA_*): the keyspace's replication
    when it creates it, the consistency of every request, the data centre it sends them to,
    and the login. The defaults suit one local node."""

    strategy: str = "SimpleStrategy"
    replication_factor: int = 1
    datacenter: str | None = None  # NetworkTopologyStrategy's, and the driver's local one
    consistency: str = "LOCAL_QUORUM"
    username: str | None = None
    password: str | None = None

    def keyspace_replication(self) -> str:
        """The keyspace's replication map, as CQL."""
        if self.strategy == "NetworkTopologyStrategy":
            if not self.datacenter:
                raise ValueError("NetworkTopologyStrategy needs a data centre")
            return (
                f"{{'class': 'NetworkTopologyStrategy', "
                f"'{self.datacenter}': {self.replication_factor}}}"
            )
        return f"{{'class': 'SimpleStrategy', 'replication_factor': {self.replication_factor}}}"

    def cluster_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the driver's Cluster: a default execution profile (token-aware
        routing, inside the data centre if one is named; the consistency) and the login."""
        from cassandra import ConsistencyLevel
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
        from cassandra.policies import (
            DCAwareRoundRobinPolicy,
            RoundRobinPolicy,
            TokenAwarePolicy,
        )

        routing = (
            DCAwareRoundRobinPolicy(self.datacenter) if self.datacenter else RoundRobinPolicy()
        )
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(routing),
            consistency_level=ConsistencyLevel.name_to_value[self.consistency],
        )
        arguments: dict[str, Any] = {"execution_profiles": {EXEC_PROFILE_DEFAULT: profile}}
        if self.username:
            arguments["auth_provider"] = PlainTextAuthProvider(self.username, self.password)
        return arguments


class CassandraTweetStore:
    """TweetStore over the DataStax driver; each call runs as the driver's async request."""

    def __init__(
        self, hosts: list[str], keyspace: str = "chirp", options: CassandraOptions | None = None
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
        self.options = options or CassandraOptions()
        self._cluster = Cluster(
            [host.split(":")[0] for host in hosts],
            port=int(hosts[0].split(":")[1]) if ":" in hosts[0] else 9042,
            **self.options.cluster_arguments(),
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
            await self._run(
                statement.format(ks=self.keyspace, replication=self.options.keyspace_replication())
            )

    async def states(self, tweet_ids: list[int], conn=None) -> dict[int, TweetState]:
        if not tweet_ids:
            return {}
        rows = await self._run(
            f"SELECT tweet_id, deleted, reply_to, quote_of FROM {self.keyspace}.tweets_by_id"
            " WHERE tweet_id IN %s",
            (tuple(tweet_ids),),
        )
        return {
            row.tweet_id: TweetState(bool(row.deleted), row.reply_to, row.quote_of) for row in rows
        }

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

    async def erase_authors(self, author_ids: list[int], conn=None) -> list[int]:
        """Not built for Cassandra yet (docs/safety.md): an account deletion's batch fails
        here, so its UserDeleted is dead-lettered rather than applied in part."""
        if not author_ids:
            return []
        raise NotImplementedError("account erasure is not built for the Cassandra tweet store")

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
        values = (
            tweet.tweet_id,
            tweet.author_id,
            tweet.content,
            tweet.created_at,
            tweet.reply_to,
            tweet.quote_of,
            list(tweet.mentioned_ids),
        )
        [applied] = await self._run(
            f"INSERT INTO {ks}.tweets_by_id (tweet_id, author_id, content, created_at, reply_to,"
            " quote_of, mentioned_ids, deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, false)"
            " IF NOT EXISTS",
            values,
        )
        if not applied[0]:
            return not applied.deleted
        await self._run(
            f"INSERT INTO {ks}.tweets_by_author (tweet_id, author_id, content, created_at,"
            " reply_to, quote_of, mentioned_ids, deleted)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, false)",
            values,
        )
        for table, link in (
            ("replies_by_parent", tweet.reply_to),
            ("quotes_by_quoted", tweet.quote_of),
        ):
            if link is not None:
                key = "parent_id" if table == "replies_by_parent" else "quoted_id"
                await self._run(
                    f"INSERT INTO {ks}.{table} ({key}, tweet_id) VALUES (%s, %s)",
                    (link, tweet.tweet_id),
                )
        return True

    async def _delete(self, tweet_id: int, author_id: int) -> int | None:
        ks = self.keyspace
        rows = await self._run(
            f"SELECT reply_to, quote_of FROM {ks}.tweets_by_id WHERE tweet_id = %s", (tweet_id,)
        )
        reply_to = rows[0].reply_to if rows else None
        quote_of = rows[0].quote_of if rows else None
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
        if quote_of is not None:
            await self._run(
                f"DELETE FROM {ks}.quotes_by_quoted WHERE quoted_id = %s AND tweet_id = %s",
                (quote_of, tweet_id),
            )
        return reply_to

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        if not tweet_ids:
            return {}
        rows = await self._run(
            f"SELECT {_TWEET_COLUMNS} FROM {self.keyspace}.tweets_by_id WHERE tweet_id IN %s",
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
                f"SELECT {_TWEET_COLUMNS}"
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
        return await self._linked("replies_by_parent", "parent_id", tweet_id, after, limit)

    async def quotes(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        return await self._linked("quotes_by_quoted", "quoted_id", tweet_id, after, limit)

    async def _linked(
        self, table: str, key: str, tweet_id: int, after: int | None, limit: int
    ) -> list[StoredTweet]:
        rows = await self._run(
            f"SELECT tweet_id FROM {self.keyspace}.{table} WHERE {key} = %s"
            " AND tweet_id > %s LIMIT %s",
            (tweet_id, after or 0, limit),
        )
        found = await self.get_many([row.tweet_id for row in rows])
        return [found[row.tweet_id] for row in rows if row.tweet_id in found]

    async def ancestors(self, tweet_id: int, limit: int) -> list[ThreadTweet]:
        chain: list[ThreadTweet] = []
        parent = (await self.parents([tweet_id])).get(tweet_id)
        while parent is not None and len(chain) < limit:
            rows = await self._run(
                f"SELECT reply_to, deleted, content FROM {self.keyspace}.tweets_by_id"
                " WHERE tweet_id = %s",
                (parent,),
            )
            stored = rows[0] if rows else None
            live = stored is not None and not stored.deleted and stored.content is not None
            above = stored.reply_to if stored is not None else None
            chain.append(ThreadTweet(parent, not live, above))
            parent = above
        return chain[::-1]

    async def descendants(self, tweet_id: int, after: int | None, limit: int) -> list[ThreadTweet]:
        # Depth first through replies_by_parent, from the start: what comes up to `after`
        # (included) is skipped.
        found: list[ThreadTweet] = []
        skipping = after is not None
        stack: list[tuple[int, int | None]] = [(tweet_id, None)]
        while stack and len(found) < limit:
            node, parent = stack.pop()
            if node != tweet_id:
                if not skipping:
                    found.append(ThreadTweet(node, False, parent))
                skipping = skipping and node != after
            rows = await self._run(
                f"SELECT tweet_id FROM {self.keyspace}.replies_by_parent WHERE parent_id = %s",
                (node,),
            )
            stack += [(row.tweet_id, node) for row in reversed(rows)]
        return found

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
        row.quote_of,
        tuple(row.mentioned_ids or ()),
    )


def _settle(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
