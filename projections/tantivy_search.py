"""The search index on tantivy (the embedded default): a directory on disk, one writer process,
readers in any number of processes."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import tantivy
from tantivy import FieldType, Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

from projections.engagements import Counts
from projections.search import SearchEngineError, SearchHit, SearchPage, TweetDocument
from projections.search_paging import search_page
from projections.search_query import SearchQuery
from projections.search_ranking import (
    TOKEN_PATTERN,
    Personal,
    day_start_ms,
    engagement,
    epoch_ms,
    recency_steps,
)
from projections.tantivy_commits import commit_batch, open_writer
from projections.tantivy_user_search import TantivyUserIndex
from projections.user_search import UserDocument, UserHit, UserQuery

TWEET_TEXT = "tweet_text"
# tantivy's minimum is 15 MB per indexing thread; a tweet batch needs far less.
WRITER_HEAP_BYTES = 32_000_000
# The fields rewritten when engagement changes: tantivy updates a document by replacing it.
_STORED = (
    "tweet_id",
    "author_id",
    "author",
    "content",
    "hashtags",
    "created_at",
    "like_count",
    "retweet_count",
    "reply_count",
)


def tweet_text_analyzer() -> tantivy.TextAnalyzer:
    """The content analyzer of search_ranking: pattern tokens, lowercase, ASCII folding, porter2."""
    return (
        TextAnalyzerBuilder(Tokenizer.regex(TOKEN_PATTERN))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .filter(Filter.stemmer("english"))
        .build()
    )


def tweet_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("tweet_id", stored=True, indexed=True, fast=True)
    # Indexed for the personal boost (search_ranking.Personal): added 2026-12-03, so an index
    # built before cannot be opened; rebuild it with `chirp replay search`.
    builder.add_unsigned_field("author_id", stored=True, indexed=True)
    # Exact-match fields: lowercased usernames and case-folded hashtags, one term each.
    builder.add_text_field("author", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("hashtags", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("content", stored=True, tokenizer_name=TWEET_TEXT)
    # Milliseconds since the epoch: tantivy's date fast fields keep only seconds.
    builder.add_integer_field("created_at", stored=True, indexed=True, fast=True)
    for count in ("like_count", "retweet_count", "reply_count"):
        builder.add_unsigned_field(count, stored=True)
    builder.add_unsigned_field("engagement", fast=True)
    return builder.build()


class TantivySearchIndex:
    """The index in `directory`. Only a `writable` instance may index (tantivy locks the
    directory to one writer); read-only ones reload the latest commit before each search."""

    def __init__(
        self, directory: Path, *, writable: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = Path(directory)
        self.writable = writable
        self.clock = clock
        self.schema = tweet_schema()
        self.analyzer = tweet_text_analyzer()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()
        # The generation's users: an index of their own inside this one's directory.
        self.users = TantivyUserIndex(self.directory / "users", writable=writable)

    async def setup(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        if self._index is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            index = tantivy.Index(self.schema, path=str(self.directory), reuse=True)
        except ValueError as error:
            if "schema does not match" not in str(error):
                raise
            raise SearchEngineError(
                f"the search index at {self.directory} was built by an older Chirp: rebuild"
                " it with `chirp replay search` (docs/replay.md)"
            ) from error
        index.register_tokenizer(TWEET_TEXT, self.analyzer)
        if self.writable:
            self._writer = open_writer(index, self.directory, WRITER_HEAP_BYTES)
        self.users.open()
        self._index = index

    async def close(self) -> None:
        def close() -> None:
            with self._write_lock:
                if self._writer is not None:
                    self._writer.wait_merging_threads()  # also releases the directory lock
                self._writer = self._index = None
            self.users.close()

        await asyncio.to_thread(close)

    async def ping(self) -> None:
        if self._index is None or not self.directory.is_dir():
            raise SearchEngineError(f"the index at {self.directory} is not open")

    async def promote(self) -> None:
        """Nothing to do: readers find the directory in use through chirp_meta.targets."""

    async def drop(self) -> None:
        """Delete this index's directory (one no process writes any more)."""
        await self.close()
        await asyncio.to_thread(shutil.rmtree, self.directory, True)

    async def index(self, documents: Sequence[TweetDocument]) -> None:
        def replace(writer: tantivy.IndexWriter) -> None:
            for document in documents:
                self._replace(writer, self._fields(document))

        await self._write(replace, documents)

    async def delete(self, tweet_ids: Sequence[int]) -> None:
        await self._write(
            lambda writer: [
                writer.delete_documents_by_query(self._tweet(tweet_id)) for tweet_id in tweet_ids
            ],
            tweet_ids,
        )

    async def erase_users(self, users: Mapping[int, str]) -> None:
        # A tweet's author is indexed by username (its id is only stored).
        await self._write(
            lambda writer: [
                writer.delete_documents_by_query(
                    Query.term_query(self.schema, "author", username.lower())
                )
                for username in users.values()
            ],
            users,
        )
        await asyncio.to_thread(self.users.erase, list(users))

    async def update_engagement(self, counts: Mapping[int, Counts]) -> None:
        def update(writer: tantivy.IndexWriter) -> None:
            stored = self._stored_fields(list(counts))
            for tweet_id, tweet_counts in counts.items():
                fields = stored.get(tweet_id)
                if fields is not None:
                    fields.update(
                        like_count=tweet_counts.likes,
                        retweet_count=tweet_counts.retweets,
                        reply_count=tweet_counts.replies,
                    )
                    self._replace(writer, fields)

        await self._write(update, counts)

    async def index_users(self, users: Sequence[UserDocument]) -> None:
        await asyncio.to_thread(self.users.write, users)

    async def user_candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        return await asyncio.to_thread(self.users.candidates, query, count)

    async def search(
        self,
        query: SearchQuery,
        cursor: str | None = None,
        limit: int = 20,
        personal: Personal | None = None,
    ) -> SearchPage:
        async def ranked(query: SearchQuery, as_of_ms: int, count: int) -> list[SearchHit]:
            return await asyncio.to_thread(self._ranked, query, as_of_ms, count, personal)

        return await search_page(ranked, query, cursor, limit, self.clock)

    async def tagged(self, hashtag: str, before: int | None, limit: int) -> list[int]:
        return await asyncio.to_thread(self._tagged, hashtag, before, limit)

    def _tagged(self, hashtag: str, before: int | None, limit: int) -> list[int]:
        clauses = [(Occur.Must, Query.term_query(self.schema, "hashtags", hashtag))]
        if before is not None:
            below = Query.range_query(self.schema, "tweet_id", FieldType.Unsigned, 0, before - 1)
            clauses.append((Occur.Must, below))
        try:
            index = self._opened()
            index.reload()  # another process may have committed since
            found = (
                index.searcher()
                .search(
                    Query.boolean_query(clauses),
                    limit=limit,
                    count=False,
                    order_by_field="tweet_id",
                )
                .hits
            )
        except ValueError as error:
            raise SearchEngineError(f"tantivy: {error}") from error
        # Ordered by tweet_id, descending: the order key is the id.
        return [int(key) for key, _ in found]

    def _opened(self) -> tantivy.Index:
        assert self._index is not None, "the index is not open"
        return self._index

    # -- writing -----------------------------------------------------------------------------

    async def _write(self, change, items) -> None:
        """Apply `change` to the writer and commit: the whole batch or nothing."""
        if self._writer is None:
            raise SearchEngineError("this tantivy index was opened read-only")
        if not items:
            return

        def write() -> None:
            with self._write_lock:
                writer, index = self._writer, self._index
                assert writer is not None and index is not None  # open, and not read-only
                commit_batch(index, writer, change)

        await asyncio.to_thread(write)

    def _replace(self, writer: tantivy.IndexWriter, fields: dict) -> None:
        # A delete applies to the documents added before it: delete then add is an upsert,
        # and the last of several versions in one batch wins.
        writer.delete_documents_by_query(self._tweet(fields["tweet_id"]))
        fields["engagement"] = engagement(
            Counts(fields["like_count"], fields["retweet_count"], fields["reply_count"])
        )
        writer.add_document(tantivy.Document.from_dict(fields, self.schema))

    def _tweet(self, tweet_id: int) -> Query:
        # Not delete_documents_by_term: it turns a Python int into a signed term, which never
        # matches an unsigned field.
        return Query.term_query(self.schema, "tweet_id", tweet_id)

    @staticmethod
    def _fields(document: TweetDocument) -> dict:
        return {
            "tweet_id": document.tweet_id,
            "author_id": document.author_id,
            "author": document.author_username.lower(),
            "content": document.content,
            "hashtags": list(document.hashtags),
            "created_at": epoch_ms(document.created_at),
            "like_count": document.counts.likes,
            "retweet_count": document.counts.retweets,
            "reply_count": document.counts.replies,
        }

    def _stored_fields(self, tweet_ids: list[int]) -> dict[int, dict]:
        searcher = self._opened().searcher()
        found = searcher.search(
            Query.term_set_query(self.schema, "tweet_id", tweet_ids),
            limit=max(len(tweet_ids), 1),
            count=False,
        ).hits
        stored: dict[int, dict] = {}
        for _, address in found:
            document = searcher.doc(address)
            all_values = {name: document.get_all(name) for name in _STORED}
            fields: dict[str, Any] = {
                name: values if name == "hashtags" else values[0]
                for name, values in all_values.items()
            }
            stored[fields["tweet_id"]] = fields
        return stored

    # -- searching ---------------------------------------------------------------------------

    def _ranked(
        self, query: SearchQuery, as_of_ms: int, count: int, personal: Personal | None = None
    ) -> list[SearchHit]:
        try:
            index = self._opened()
            index.reload()  # another process may have committed since
            searcher = index.searcher()
            engine_query = self._query(query, as_of_ms, personal)
            fetch = count + 1
            while True:
                found = searcher.search(
                    engine_query, limit=fetch, count=False, weight_by_field="engagement"
                ).hits
                # tantivy orders ties arbitrarily: rank past the cut until the tie ends.
                if len(found) < fetch or found[-1][0] < found[count - 1][0]:
                    break
                fetch *= 2
            # tweet_id is an integer fast field: an int for every hit.
            ids = cast(
                list[int],
                searcher.fast_field_values("tweet_id", [address for _, address in found]),
            )
        except ValueError as error:
            raise SearchEngineError(f"tantivy: {error}") from error
        hits = sorted(
            (SearchHit(tweet_id, score) for (score, _), tweet_id in zip(found, ids, strict=True)),
            key=lambda hit: (hit.score, hit.tweet_id),
            reverse=True,
        )
        return hits[:count]

    def _query(self, query: SearchQuery, as_of_ms: int, personal: Personal | None = None) -> Query:
        """relevance (BM25, or 1 without text) x the recency step of each tweet x its personal
        boost; tantivy multiplies by the engagement boost itself (weight_by_field:
        log2(2 + engagement))."""
        # Created strictly before the first page's moment: a tweet posted in that very
        # millisecond, after the page was ranked, must not appear on the next one.
        pinned = self._created_between(None, as_of_ms - 1)
        # Not all_query(): tantivy drops its score when it intersects it with other clauses.
        scored = self._text_clauses(query) or [(Occur.Must, Query.const_score_query(pinned, 1.0))]
        filters = [*self._filters(query), pinned]
        matching = Query.boolean_query(
            scored + [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters]
        )
        # Each tweet falls in exactly one step and one personal tier (the boosted authors'
        # sets, then everyone else), so the sum has exactly one term.
        boosted = personal.tiers() if personal else []
        tiers = [([(Occur.Must, self._authors(authors))], factor) for authors, factor in boosted]
        if boosted:
            everyone_boosted = frozenset().union(*(authors for authors, _ in boosted))
            tiers.append(([(Occur.MustNot, self._authors(everyone_boosted))], 1.0))
        else:
            tiers.append(([], 1.0))
        return Query.boolean_query(
            [
                (
                    Occur.Should,
                    Query.boost_query(
                        Query.boolean_query(
                            [
                                (Occur.Must, matching),
                                (
                                    Occur.Must,
                                    Query.const_score_query(
                                        self._created_between(step.oldest_ms, step.newest_ms), 0.0
                                    ),
                                ),
                                *tier,
                            ]
                        ),
                        step.factor * factor,
                    ),
                )
                for step in recency_steps(as_of_ms)
                for tier, factor in tiers
            ]
        )

    def _authors(self, authors: frozenset[int]) -> Query:
        return Query.const_score_query(
            Query.term_set_query(self.schema, "author_id", sorted(authors)), 0.0
        )

    def _text_clauses(self, query: SearchQuery) -> list[tuple[Occur, Query]]:
        clauses = []
        for word in query.words:
            # A word the analyzer cuts in several tokens needs them all, anywhere (as ES's
            # match query with operator "and").
            clauses += [
                (Occur.Must, self._content_term(token)) for token in self.analyzer.analyze(word)
            ]
        for phrase in query.phrases:
            tokens = self.analyzer.analyze(phrase)
            clauses.append(
                (
                    Occur.Must,
                    self._content_term(tokens[0])
                    if len(tokens) == 1
                    else Query.phrase_query(self.schema, "content", [*tokens]),
                )
            )
        for tag in query.hashtags:
            # Ranked by the tag as a word of the text, filtered on the exact hashtag.
            clauses += [
                (Occur.Should, self._content_term(token)) for token in self.analyzer.analyze(tag)
            ]
        return clauses

    def _filters(self, query: SearchQuery) -> list[Query]:
        filters = [Query.term_query(self.schema, "hashtags", tag) for tag in query.hashtags]
        if query.authors:
            filters.append(Query.term_set_query(self.schema, "author", list(query.authors)))
        if query.since or query.until:
            filters.append(
                self._created_between(
                    day_start_ms(query.since) if query.since else None,
                    day_start_ms(query.until) - 1 if query.until else None,
                )
            )
        return filters

    def _content_term(self, token: str) -> Query:
        return Query.term_query(self.schema, "content", token)

    def _created_between(self, oldest_ms: int | None, newest_ms: int | None) -> Query:
        return Query.range_query(self.schema, "created_at", FieldType.Integer, oldest_ms, newest_ms)
