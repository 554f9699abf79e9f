"""One contract for the search index port, run against every adapter."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import uuid
import zlib
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from projections.elasticsearch_search import (
    MAPPINGS,
    SETTINGS,
    ElasticsearchSearchIndex,
    elasticsearch_client,
)
from projections.engagements import Counts
from projections.search import SearchEngineError, TweetDocument
from projections.search_query import parse_search_query
from projections.search_ranking import ENGAGED_BOOST, FOLLOWED_BOOST, Personal, recency_factor
from projections.tantivy_search import TantivySearchIndex
from projections.user_search import UserDocument, parse_user_query
from schemas.entities import extract_hashtags
from streams.ids import lowest_id_at
from tests.integration.conftest import NO_REAL_ELASTICSEARCH, REAL_ELASTICSEARCH_URL

MINUTE = timedelta(minutes=1)
# Every index searches at this moment, mid-month: a test's tweets (days old at most) share a
# month, and so one monthly index on Elasticsearch, whose API stand-in scores each index with
# its own statistics (Elasticsearch itself searches them with dfs_query_then_fetch). Tests
# that spread tweets over months say so.
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
_STARTED = time.monotonic()


def now() -> datetime:
    """NOW, moving on as time passes (tweets made later are newer)."""
    return NOW + timedelta(seconds=time.monotonic() - _STARTED)


def clock() -> float:
    return now().timestamp()


_IDS = count(1000)


def tweet(
    content: str,
    author: str = "alice",
    age: timedelta = 10 * MINUTE,
    created_at: datetime | None = None,
    **counts,
) -> TweetDocument:
    """A tweet document; ids grow with each call, as Snowflake ids grow with time."""
    created_at = created_at or now() - age
    return TweetDocument(
        next(_IDS),
        zlib.crc32(author.encode()),
        author,
        content,
        extract_hashtags(content),
        created_at,
        Counts(**counts),
    )


async def ids(index, q: str, limit: int = 100) -> list[int]:
    page = await index.search(parse_search_query(q), None, limit)
    return [hit.tweet_id for hit in page.hits]


async def scores(index, q: str) -> dict[int, float]:
    page = await index.search(parse_search_query(q), None, 100)
    return {hit.tweet_id: hit.score for hit in page.hits}


class SearchIndexContract:
    """Subclasses provide `open_index()`: an async context manager yielding a fresh index."""

    def run(self, scenario):
        async def main():
            async with self.open_index() as index:
                await index.setup()
                await scenario(index)

        asyncio.run(main())

    def test_words_must_all_match_in_any_of_their_forms(self):
        async def scenario(index):
            both, stemmed, _one, other = docs = [
                tweet("Running with the dogs today"),
                tweet("my dog runs"),
                tweet("running late"),
                tweet("cats and dogs"),
            ]
            await index.index(docs)
            assert set(await ids(index, "dogs running")) == {both.tweet_id, stemmed.tweet_id}
            assert set(await ids(index, "DOG")) == {both.tweet_id, stemmed.tweet_id, other.tweet_id}
            assert await ids(index, "dogs running cats") == []

        self.run(scenario)

    def test_erasing_users_removes_them_and_every_tweet_of_theirs_only(self):
        async def scenario(index):
            gone, kept = tweet("erase me #gone", author="Gone_User"), tweet("keep #gone", "bob")
            older = tweet("an older one of theirs", author="Gone_User")
            await index.index([gone, kept, older])
            await index.index_users(
                [UserDocument(7, "Gone_User", "Gone Person"), UserDocument(8, "bob", "Bob")]
            )
            await index.erase_users({7: "Gone_User", 99: "nobody"})
            await index.erase_users({7: "Gone_User"})  # again: nothing more
            assert await ids(index, "#gone") == [kept.tweet_id]
            assert await ids(index, "older") == []
            found = await index.user_candidates(parse_user_query("gone"), 10)
            assert [hit.user_id for hit in found] == []
            bob = await index.user_candidates(parse_user_query("bob"), 10)
            assert [hit.user_id for hit in bob] == [8]

        self.run(scenario)

    def test_a_phrase_matches_its_words_in_order_only(self):
        async def scenario(index):
            ordered, swapped, punctuated = docs = [
                tweet("the quick brown dog"),
                tweet("brown quick dog"),
                tweet("a brown, quick dog"),
            ]
            await index.index(docs)
            assert await ids(index, '"quick brown dog"') == [ordered.tweet_id]
            assert set(await ids(index, '"brown quick"')) == {swapped.tweet_id, punctuated.tweet_id}

        self.run(scenario)

    def test_a_phrase_matches_across_an_emoji(self):
        async def scenario(index):
            # U+FE0F (an emoji's variation selector) alone is no word: it must not sit between
            # the phrase's words.
            across = tweet("with mom \u2764\ufe0f @ Melrose Avenue")
            await index.index([across])
            assert await ids(index, '"mom melrose avenue"') == [across.tweet_id]

        self.run(scenario)

    def test_a_hashtag_matches_that_exact_tag_in_any_case(self):
        async def scenario(index):
            tagged, _untagged, _longer, shouted = docs = [
                tweet("Throwback #TBT"),
                tweet("tbt without a tag"),
                tweet("not the same #tbtx"),
                tweet("#TbT and more"),
            ]
            await index.index(docs)
            assert set(await ids(index, "#tbt")) == {tagged.tweet_id, shouted.tweet_id}
            assert await ids(index, "#TBT throwback") == [tagged.tweet_id]

        self.run(scenario)

    def test_from_filters_by_author_and_alone_lists_newest_first(self):
        async def scenario(index):
            docs = [
                tweet(f"post {n} cats", author="Alice", age=(20 - n) * MINUTE) for n in range(4)
            ]
            docs += [tweet("bob on cats", author="bob"), tweet("carol", author="carol")]
            await index.index(docs)
            alice = [doc.tweet_id for doc in docs[:4]]
            # No words: relevance is 1 for all, same age step, no engagement: newest first.
            assert await ids(index, "from:ALICE") == sorted(alice, reverse=True)
            assert set(await ids(index, "from:alice from:bob cats")) == {*alice, docs[4].tweet_id}
            assert await ids(index, "from:carol cats") == []

        self.run(scenario)

    def test_since_is_inclusive_and_until_exclusive_in_utc_days(self):
        async def scenario(index):
            moments = [
                "2024-03-31T23:59:59.999",
                "2024-04-01T00:00:00",
                "2024-04-08T23:59:59.999",
                "2024-04-09T00:00:00",
            ]
            docs = [
                tweet("total eclipse", created_at=datetime.fromisoformat(m + "+00:00"))
                for m in moments
            ]
            await index.index(docs)
            before, first, last, after = (doc.tweet_id for doc in docs)
            assert set(await ids(index, "eclipse since:2024-04-01 until:2024-04-09")) == {
                first,
                last,
            }
            assert await ids(index, "eclipse until:2024-04-01") == [before]
            assert await ids(index, "eclipse since:2024-04-09") == [after]
            assert set(await ids(index, "since:2024-04-01")) == {first, last, after}

        self.run(scenario)

    def test_a_deleted_tweet_is_gone_and_deleting_again_changes_nothing(self):
        async def scenario(index):
            kept, deleted = docs = [tweet("apple pie"), tweet("apple tart")]
            await index.index(docs)
            await index.delete([deleted.tweet_id])
            assert await ids(index, "apple") == [kept.tweet_id]
            await index.delete([deleted.tweet_id, 987_654_321])
            assert await ids(index, "apple") == [kept.tweet_id]

        self.run(scenario)

    def test_indexing_the_same_tweet_again_changes_nothing_and_a_new_version_replaces_it(self):
        async def scenario(index):
            docs = [tweet(f"lemon cake number {n} " + "fresh " * n) for n in range(6)]
            await index.index(docs)
            before = await ids(index, "lemon cake")
            await index.index(docs)
            await index.index(docs[:3] + docs[:3])  # duplicates within one batch too
            assert await ids(index, "lemon cake") == before
            assert len(before) == 6
            first = docs[0]
            await index.index(
                [
                    TweetDocument(
                        first.tweet_id,
                        first.author_id,
                        first.author_username,
                        "banana bread",
                        (),
                        first.created_at,
                    )
                ]
            )
            assert first.tweet_id not in await ids(index, "lemon")
            assert await ids(index, "banana") == [first.tweet_id]

        self.run(scenario)

    def test_engagement_changes_the_order_and_keeps_everything_else(self):
        async def scenario(index):
            older, newer = docs = [
                tweet("coffee time #morning", age=12 * MINUTE),
                tweet("coffee time #morning", age=11 * MINUTE),
            ]
            await index.index(docs)
            # Same text, same age step, no engagement: the newer id first.
            assert await ids(index, "coffee") == [newer.tweet_id, older.tweet_id]
            update = {older.tweet_id: Counts(likes=2), 987_654_321: Counts(5, 5, 5)}
            await index.update_engagement(update)
            await index.update_engagement(update)  # absolute counts: again changes nothing
            ranked = await scores(index, "coffee")
            assert list(ranked) == [older.tweet_id, newer.tweet_id]
            # Engagement 2 boosts by log2(2 + 2) = 2.
            assert ranked[older.tweet_id] / ranked[newer.tweet_id] == pytest.approx(2, rel=1e-3)
            assert await ids(index, "#morning from:alice coffee since:2020-01-01") == list(ranked)

        self.run(scenario)

    def test_score_is_relevance_times_recency_step_times_engagement_boost(self):
        async def scenario(index):
            fresh = tweet("sourdough bread recipe", age=10 * MINUTE)
            liked = tweet(
                "sourdough bread recipe", age=timedelta(days=2, hours=1), likes=4, retweets=1
            )  # engagement 4 + 2 x 1 = 6: boost log2(8) = 3
            old = tweet("sourdough bread recipe", age=timedelta(days=10))
            await index.index([fresh, liked, old])
            ranked = await scores(index, "sourdough")
            assert list(ranked) == [liked.tweet_id, fresh.tweet_id, old.tweet_id]
            two_days, ten_days = recency_factor(2 * 86_400_000), recency_factor(10 * 86_400_000)
            assert ranked[liked.tweet_id] / ranked[fresh.tweet_id] == pytest.approx(
                3 * two_days, rel=1e-3
            )
            assert ranked[old.tweet_id] / ranked[fresh.tweet_id] == pytest.approx(
                ten_days, rel=1e-3
            )

        self.run(scenario)

    def test_a_discussed_tweet_beats_an_equally_liked_one(self):
        async def scenario(index):
            # Same text and age step; three replies against three likes. With replies
            # weighted like likes (as before seed 000's rule), the newer id would win the tie.
            discussed = tweet("espresso machine advice", age=12 * MINUTE, replies=3)
            liked = tweet("espresso machine advice", age=11 * MINUTE, likes=3)
            await index.index([discussed, liked])
            ranked = await scores(index, "espresso")
            assert list(ranked) == [discussed.tweet_id, liked.tweet_id]
            # Engagement 9 against 3: log2(11) / log2(5).
            assert ranked[discussed.tweet_id] / ranked[liked.tweet_id] == pytest.approx(
                math.log2(11) / math.log2(5), rel=1e-3
            )

        self.run(scenario)

    def test_a_followed_or_engaged_authors_tweet_outranks_a_strangers_equal_one(self):
        async def scenario(index):
            # Equal text, age step and engagement; the stranger's is the newer (wins ties).
            friend = tweet("hiking trail tips", author="friend", age=14 * MINUTE)
            liked = tweet("hiking trail tips", author="liked", age=13 * MINUTE)
            stranger = tweet("hiking trail tips", author="stranger", age=12 * MINUTE)
            await index.index([friend, liked, stranger])
            query = parse_search_query("hiking")
            signed_out = await index.search(query, None, 10)
            assert [hit.tweet_id for hit in signed_out.hits] == [
                stranger.tweet_id, liked.tweet_id, friend.tweet_id
            ]  # fmt: skip
            personal = Personal(
                followed=frozenset({friend.author_id}), engaged=frozenset({liked.author_id})
            )
            signed_in = await index.search(query, None, 10, personal)
            ranked = {hit.tweet_id: hit.score for hit in signed_in.hits}
            assert list(ranked) == [friend.tweet_id, liked.tweet_id, stranger.tweet_id]
            assert ranked[friend.tweet_id] / ranked[stranger.tweet_id] == pytest.approx(
                FOLLOWED_BOOST, rel=1e-3
            )
            assert ranked[liked.tweet_id] / ranked[stranger.tweet_id] == pytest.approx(
                ENGAGED_BOOST, rel=1e-3
            )
            # Paging with the boost returns every hit once, in the same order.
            first = await index.search(query, None, 2, personal)
            rest = await index.search(query, first.next_cursor, 2, personal)
            assert [hit.tweet_id for hit in first.hits + rest.hits] == list(ranked)

        self.run(scenario)

    def test_a_hashtag_pages_newest_first_while_new_tweets_arrive(self):
        async def scenario(index):
            tagged = [tweet(f"day {n} #Caturday", age=(30 - n) * MINUTE) for n in range(7)]
            await index.index([*tagged, tweet("no tag here"), tweet("other #dogs")])
            newest_first = [doc.tweet_id for doc in reversed(tagged)]
            shown, before = [], None
            while page := await index.tagged("caturday", before, 3):
                shown += page
                before = page[-1]
                # Between pages: a newer tagged tweet, which the next pages do not show.
                await index.index([tweet("late #caturday", age=timedelta(0))])
            assert shown == newest_first
            await index.delete([newest_first[0]])
            assert (await index.tagged("caturday", None, 100))[-6:] == newest_first[1:]
            assert await index.tagged("nothing", None, 10) == []

        self.run(scenario)

    def test_pages_return_every_hit_once_while_tweets_are_indexed_and_deleted_between_them(self):
        async def scenario(index):
            docs = [
                tweet(f"paging test {n} " + "filler " * (n % 5), age=(n * 97) * MINUTE, likes=n % 4)
                for n in range(45)
            ]
            await index.index([*docs, tweet("unrelated words")])
            everything = await ids(index, "paging")
            assert sorted(everything) == sorted(doc.tweet_id for doc in docs)
            query, cursor, shown, deleted = parse_search_query("paging"), None, [], set()
            while True:
                page = await index.search(query, cursor, 7)
                shown += [hit.tweet_id for hit in page.hits]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
                # Between pages: new matching tweets, a deleted anchor and a deleted later hit.
                await index.index(
                    [tweet(f"paging test new {n}", age=timedelta(0)) for n in range(5)]
                )
                unseen = [t for t in everything if t not in shown and t not in deleted][3:4]
                await index.delete([shown[-1], *unseen])
                deleted |= {shown[-1], *unseen}
            assert len(shown) == len(set(shown))
            assert shown == [
                tweet_id for tweet_id in everything if tweet_id not in deleted or tweet_id in shown
            ]

        self.run(scenario)

    def test_engine_syntax_in_a_query_is_searched_as_text(self):
        async def scenario(index):
            doc = tweet("c++ AND c# rock (really) title:x")
            await index.index([doc])
            for q in ["c++ (really)", "AND title:x", '"rock (really)"', "really* ~ ^2 [a TO z]"]:
                assert await ids(index, q) in ([doc.tweet_id], []), q
            assert await ids(index, "c++ (really)") == [doc.tweet_id]

        self.run(scenario)

    def test_an_empty_index_answers_an_empty_last_page(self):
        async def scenario(index):
            page = await index.search(parse_search_query("anything"), None, 20)
            assert page.hits == [] and page.next_cursor is None

        self.run(scenario)


class TestTantivySearchIndex(SearchIndexContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.directory = tmp_path / "search"

    @asynccontextmanager
    async def open_index(self):
        index = TantivySearchIndex(self.directory, writable=True, clock=clock)
        try:
            yield index
        finally:
            await index.close()

    def test_a_reader_elsewhere_sees_each_commit_and_cannot_write(self):
        async def scenario(writer):
            reader = TantivySearchIndex(self.directory)
            await reader.setup()
            first = tweet("reader sees this")
            await writer.index([first])
            assert await ids(reader, "reader") == [first.tweet_id]
            await writer.delete([first.tweet_id])
            assert await ids(reader, "reader") == []
            with pytest.raises(Exception, match="read-only"):
                await reader.index([first])
            await reader.close()

        self.run(scenario)

    def test_a_dropped_generation_leaves_no_directory_behind(self):
        async def scenario(writer):
            await writer.index([tweet("soon gone")])
            await writer.drop()
            assert not self.directory.exists()

        self.run(scenario)


class ElasticsearchContract(SearchIndexContract):
    """The Elasticsearch adapter, each test in indices of its own behind its own alias."""

    url: str
    api_stand_in: bool

    @asynccontextmanager
    async def open_index(self, alias: str | None = None, generation: int = 1, **options):
        alias = alias or f"contract-{uuid.uuid4().hex[:8]}"
        client = elasticsearch_client(self.url, api_stand_in=self.api_stand_in)
        index = ElasticsearchSearchIndex(
            client,
            alias,
            generation=generation,
            refresh=True,
            clock=clock,
            replicas=0,
            **options,
        )
        try:
            yield index
        finally:
            await index.drop()
            await client.close()

    def test_a_rebuilt_generation_takes_over_the_alias_in_one_step(self):
        async def scenario(live):
            old, rebuilt = tweet("generation one"), tweet("generation two")
            await live.index([old])
            async with self.open_index(live.alias, generation=2) as rebuild:
                await rebuild.setup()
                await rebuild.index([rebuilt])
                assert await ids(rebuild, "generation") == [old.tweet_id]  # readers: still v1
                await rebuild.promote()
                assert await ids(live, "generation") == [rebuilt.tweet_id]
                mapping = await live.client.indices.get_mapping(index=live.alias)
                assert list(mapping) == await rebuild.months() == [rebuild.month_index(NOW)]
                await live.drop()  # the replaced generation, dropped after the switch
                assert not await live.client.indices.exists_alias(name=live.generation_alias)
                assert await ids(rebuild, "generation") == [rebuilt.tweet_id]
                # A month that comes after the switch is read through the alias too.
                later = tweet("generation two later", created_at=NOW - timedelta(days=30))
                await rebuild.index([later])
                assert len(await rebuild.months()) == 2
                assert await ids(live, "later") == [later.tweet_id]

        self.run(scenario)

    def test_an_index_from_before_monthly_indexes_asks_for_a_replay_which_replaces_it(self):
        async def main():
            alias = f"contract-{uuid.uuid4().hex[:8]}"
            async with self.open_index(alias) as legacy, self.open_index(alias, 2) as rebuilt:
                # As the adapter made it before: one index per generation, the alias on it.
                await legacy.client.indices.create(
                    index=legacy.generation_alias, settings=SETTINGS, mappings=MAPPINGS
                )
                await legacy.client.indices.put_alias(index=legacy.generation_alias, name=alias)
                with pytest.raises(SearchEngineError, match="chirp replay search"):
                    await legacy.setup()
                await rebuilt.setup()
                await rebuilt.index([tweet("rebuilt in months")])
                await rebuilt.promote()
                await legacy.drop()
                assert not await legacy.client.indices.exists(index=legacy.generation_alias)
                assert await ids(rebuilt, "months") != []

        asyncio.run(main())

    def test_tweets_of_two_months_land_in_two_indexes_and_since_reads_only_its_months(self):
        async def scenario(index):
            may = _made_at(tweet("monthly report", created_at=datetime(2026, 5, 20, tzinfo=UTC)))
            june = _made_at(tweet("monthly report", age=timedelta(days=1)))
            await index.index([may, june])
            months = [index.month_index(may.created_at), index.month_index(june.created_at)]
            assert (
                await index.months()
                == months
                == [
                    f"{index.generation_alias}-2026.05",
                    f"{index.generation_alias}-2026.06",
                ]
            )
            for month, doc in zip(months, (may, june), strict=True):
                found = await index.client.search(index=month, query={"match_all": {}})
                assert [hit["_id"] for hit in found["hits"]["hits"]] == [str(doc.tweet_id)]
            query = parse_search_query("monthly since:2026-06-05")
            assert await index.indexes_for(query, int(NOW.timestamp() * 1000)) == months[1]
            assert await ids(index, "monthly since:2026-06-05") == [june.tweet_id]
            assert await ids(index, "monthly until:2026-06-01") == [may.tweet_id]
            assert set(await ids(index, "monthly")) == {may.tweet_id, june.tweet_id}
            # Writes known by id only find each tweet's month.
            await index.update_engagement({may.tweet_id: Counts(likes=3)})
            await index.delete([june.tweet_id])
            assert await ids(index, "monthly") == [may.tweet_id]

        self.run(scenario)

    def test_retention_drops_old_months_whole_and_a_replay_does_not_bring_them_back(self):
        async def scenario(index):
            april, may, june = (
                _made_at(tweet(f"kept {n}", created_at=moment))
                for n, moment in enumerate(
                    [datetime(2026, 4, 30, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), NOW]
                )
            )
            await index.index([april, may, june])
            assert len(await index.months()) == 3
            # The same generation with a retention of one month before the current one.
            retaining = ElasticsearchSearchIndex(
                index.client, index.alias, refresh=True, clock=clock, retention_months=1
            )
            assert await retaining.drop_expired() == [index.month_index(april.created_at)]
            assert await retaining.drop_expired() == []
            assert await ids(retaining, "kept") == [june.tweet_id, may.tweet_id]
            # Indexing the old tweet again (a replay) does not bring its month back.
            await retaining.index([april])
            assert len(await index.months()) == 2
            assert await ids(retaining, "kept") == [june.tweet_id, may.tweet_id]

        self.run(scenario)


class TestElasticsearchAdapterOnApiStandIn(ElasticsearchContract):
    """Against osmem-server: the adapter's requests, on a server that only imitates
    Elasticsearch."""

    api_stand_in = True

    @pytest.fixture(autouse=True)
    def _server(self, elasticsearch_api_stand_in):
        self.url = elasticsearch_api_stand_in.url


@pytest.mark.skipif(not REAL_ELASTICSEARCH_URL, reason=NO_REAL_ELASTICSEARCH)
class TestElasticsearchSearchIndex(ElasticsearchContract):
    api_stand_in = False
    url = REAL_ELASTICSEARCH_URL


def _made_at(document: TweetDocument) -> TweetDocument:
    """The document with an id made at its time, as a Snowflake id is (its month's)."""
    return dataclasses.replace(
        document, tweet_id=lowest_id_at(document.created_at) + document.tweet_id
    )
