"""One contract for the tweet store port, run against every adapter."""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from psycopg_pool import AsyncConnectionPool

from projections.postgres_tweet_store import PostgresTweetStore
from projections.tweet_store import StoredTweet, ThreadTweet, TweetState
from streams.ids import SnowflakeIds, id_time

IDS = SnowflakeIds(worker_id=900)


def tweet(author: int, content: str = "hello", reply_to: int | None = None, **extra) -> StoredTweet:
    tweet_id = IDS.next_id()
    return StoredTweet(tweet_id, author, content, id_time(tweet_id), reply_to, **extra)


class TweetStoreContract:
    """Subclasses provide `open_store()`: an async context manager yielding a fresh store,
    and `transaction(store)`: one yielding what the store's batch writes take as `conn`."""

    def run(self, scenario):
        async def main():
            async with self.open_store() as store:
                await store.setup()
                await scenario(store)

        asyncio.run(main())

    async def write(self, store, new_rows=(), deletions=()) -> None:
        async with self.transaction(store) as conn:
            await store.write(list(new_rows), list(deletions), conn)

    async def states(self, store, tweet_ids) -> dict:
        async with self.transaction(store) as conn:
            return await store.states(list(tweet_ids), conn)

    async def newest(self, store, authors, limit) -> dict:
        async with self.transaction(store) as conn:
            return await store.newest_by_each(authors, limit, conn)

    def test_written_tweets_read_back_by_id_and_by_author(self):
        async def scenario(store):
            first, second = tweet(1, "first"), tweet(1, "second")
            await self.write(store, [first, second])
            found = await store.get_many([first.tweet_id, second.tweet_id, 12345])
            assert found[first.tweet_id].content == "first" and 12345 not in found
            assert found[first.tweet_id].created_at == first.created_at
            newest_first = await store.by_author(1, None, 10)
            assert [t.tweet_id for t in newest_first] == [second.tweet_id, first.tweet_id]
            assert [t.tweet_id for t in await store.by_author(1, second.tweet_id, 10)] == [
                first.tweet_id
            ]
            assert await self.states(store, [first.tweet_id, 12345]) == {
                first.tweet_id: TweetState(deleted=False, reply_to=None)
            }

        self.run(scenario)

    def test_a_deleted_tweet_is_gone_and_keeps_what_it_replied_to(self):
        async def scenario(store):
            parent = tweet(2)
            reply = tweet(3, "reply", reply_to=parent.tweet_id)
            await self.write(store, [parent, reply])
            assert [t.tweet_id for t in await store.replies(parent.tweet_id, None, 10)] == [
                reply.tweet_id
            ]
            await self.write(store, deletions=[reply.tweet_id])
            await self.write(store, deletions=[reply.tweet_id])  # again: nothing changes
            assert await self.states(store, [reply.tweet_id]) == {
                reply.tweet_id: TweetState(deleted=True, reply_to=parent.tweet_id)
            }
            assert await store.get_many([reply.tweet_id]) == {}
            assert await store.by_author(3, None, 10) == []
            assert await store.replies(parent.tweet_id, None, 10) == []
            assert await store.parents([reply.tweet_id]) == {reply.tweet_id: parent.tweet_id}

        self.run(scenario)

    def test_a_tombstone_stays_deleted_when_the_post_is_written_again(self):
        async def scenario(store):
            item = tweet(9)
            await self.write(store, [replace(item, content="", deleted=True)])
            await self.write(store, [item])  # a redelivered post after its deletion
            assert await store.get_many([item.tweet_id]) == {}
            assert (await self.states(store, [item.tweet_id]))[item.tweet_id].deleted

        self.run(scenario)

    def test_newest_by_each_gives_each_authors_newest_live_tweets(self):
        async def scenario(store):
            made = [tweet(author) for author in (10, 11, 10, 10)]
            await self.write(store, made)
            await self.write(store, deletions=[made[3].tweet_id])
            assert await self.newest(store, [10, 11, 12], 1) == {
                10: [made[2].tweet_id],
                11: [made[1].tweet_id],
                12: [],
            }
            assert (await self.newest(store, [10], 5))[10] == [made[2].tweet_id, made[0].tweet_id]

        self.run(scenario)

    def test_by_authors_merges_newest_first_with_a_cursor(self):
        async def scenario(store):
            made = [tweet(author) for author in (4, 5, 6, 4, 5, 6)]
            await self.write(store, made)
            ids = [t.tweet_id for t in sorted(made, key=lambda t: t.tweet_id, reverse=True)]
            page = await store.by_authors([4, 5, 6], None, 4)
            assert [t.tweet_id for t in page] == ids[:4]
            rest = await store.by_authors([4, 5, 6], page[-1].tweet_id, 4)
            assert [t.tweet_id for t in rest] == ids[4:]
            assert [t.tweet_id for t in await store.by_authors([5], None, 10)] == [
                t.tweet_id for t in sorted(made, key=lambda t: -t.tweet_id) if t.author_id == 5
            ]

        self.run(scenario)

    def test_replies_page_oldest_first(self):
        async def scenario(store):
            parent = tweet(7)
            replies = [tweet(8, f"r{n}", parent.tweet_id) for n in range(5)]
            await self.write(store, [parent, *replies])
            first = await store.replies(parent.tweet_id, None, 3)
            assert [t.tweet_id for t in first] == [t.tweet_id for t in replies[:3]]
            rest = await store.replies(parent.tweet_id, first[-1].tweet_id, 3)
            assert [t.tweet_id for t in rest] == [t.tweet_id for t in replies[3:]]

        self.run(scenario)

    def test_quotes_and_mentioned_ids_read_back_and_quotes_page_oldest_first(self):
        async def scenario(store):
            quoted = tweet(12)
            quotes = [tweet(13, f"q{n}", quote_of=quoted.tweet_id) for n in range(3)]
            mentioning = tweet(13, "@a @b", mentioned_ids=(5, 4))
            await self.write(store, [quoted, *quotes, mentioning])
            found = await store.get_many([quotes[0].tweet_id, mentioning.tweet_id])
            assert found[quotes[0].tweet_id].quote_of == quoted.tweet_id
            assert found[mentioning.tweet_id].mentioned_ids == (5, 4)
            assert (await store.by_author(13, None, 1))[0].mentioned_ids == (5, 4)
            first = await store.quotes(quoted.tweet_id, None, 2)
            assert [t.tweet_id for t in first] == [t.tweet_id for t in quotes[:2]]
            rest = await store.quotes(quoted.tweet_id, first[-1].tweet_id, 2)
            assert [t.tweet_id for t in rest] == [quotes[2].tweet_id]
            await self.write(store, deletions=[quotes[0].tweet_id])
            assert (await self.states(store, [quotes[0].tweet_id]))[quotes[0].tweet_id] == (
                TweetState(deleted=True, reply_to=None, quote_of=quoted.tweet_id)
            )
            remaining = await store.quotes(quoted.tweet_id, None, 10)
            assert [t.tweet_id for t in remaining] == [t.tweet_id for t in quotes[1:]]

        self.run(scenario)

    def test_a_conversation_walks_up_to_the_root_and_down_depth_first(self):
        async def scenario(store):
            root = tweet(14)
            reply = tweet(14, reply_to=root.tweet_id)
            deep = tweet(14, reply_to=reply.tweet_id)
            sibling = tweet(14, reply_to=root.tweet_id)
            late = tweet(14, reply_to=reply.tweet_id)
            await self.write(store, [root, reply, deep, sibling, late])
            ids = [t.tweet_id for t in (reply, deep, late, sibling)]
            down = await store.descendants(root.tweet_id, None, 10)
            assert [t.tweet_id for t in down] == ids
            assert down[1] == ThreadTweet(deep.tweet_id, False, reply.tweet_id)
            page = await store.descendants(root.tweet_id, None, 2)
            rest = await store.descendants(root.tweet_id, page[-1].tweet_id, 10)
            assert [t.tweet_id for t in page + rest] == ids
            assert await store.descendants(deep.tweet_id, None, 10) == []
            assert await store.ancestors(deep.tweet_id, 10) == [
                ThreadTweet(root.tweet_id, False, None),
                ThreadTweet(reply.tweet_id, False, root.tweet_id),
            ]
            assert await store.ancestors(root.tweet_id, 10) == []
            await self.write(store, deletions=[root.tweet_id])
            assert (await store.ancestors(reply.tweet_id, 10))[0].deleted

        self.run(scenario)


class TestPostgresTweetStore(TweetStoreContract):
    @pytest.fixture(autouse=True)
    def _postgres(self, stack):
        self.dsn = stack.settings.postgres

    def open_store(self):
        dsn = self.dsn

        class Opened:
            async def __aenter__(self):
                self.pool = AsyncConnectionPool(dsn, min_size=1, max_size=4, open=False)
                await self.pool.open(wait=True)
                return PostgresTweetStore(self.pool, f"contract_{uuid.uuid4().hex[:8]}")

            async def __aexit__(self, *exc):
                await self.pool.close()

        return Opened()

    @asynccontextmanager
    async def transaction(self, store):
        """The batch's PostgreSQL transaction."""
        async with store.pool.connection() as conn, conn.transaction():
            yield conn


@pytest.mark.skipif(
    not os.environ.get("CHIRP_CASSANDRA_HOSTS"),
    reason="no Cassandra server can run here: set CHIRP_CASSANDRA_HOSTS=host:port "
    "to run the tweet store contract against a real Cassandra",
)
class TestCassandraTweetStore(TweetStoreContract):
    def open_store(self):
        from projections.cassandra_tweet_store import CassandraTweetStore

        hosts = os.environ["CHIRP_CASSANDRA_HOSTS"].split(",")

        class Opened:
            async def __aenter__(self):
                self.store = CassandraTweetStore(hosts, f"contract_{uuid.uuid4().hex[:8]}")
                return self.store

            async def __aexit__(self, *exc):
                await self.store.close()

        return Opened()

    @asynccontextmanager
    async def transaction(self, store):
        yield None  # Cassandra writes take no transaction
