"""The search benchmark: `make bench-search` (or `python -m bench.search`).

On the 127k real tweet texts, for each adapter (tantivy in a temporary directory; the
Elasticsearch adapter on osmem-server, an Elasticsearch API stand-in this bench starts and
stops; a real Elasticsearch too when CHIRP_ELASTICSEARCH_URL is set), each figure beside a
baseline from the same run: indexing documents/s in the search agent's batches vs the raw
engine's bulk load of the same texts into a bare index; search p50/p99 and queries/s vs the
raw engine's plain query for the same words on that bare index. Then, through a local stack
(agents + API): post -> searchable and delete -> gone vs post -> visible in the author's own
home timeline. Writes bench/results/search-<time>.json and docs/benchmarks.md's search section.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import regex
import tantivy
from elasticsearch.helpers import async_bulk
from tantivy import Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

from agents.search import SEARCH_BATCHING
from bench.dataset import DATA_DIR
from bench.measure import p50_p99, summary
from bench.report import write_search_report
from bench.search_end_to_end import run_end_to_end
from bench.timeline import machine
from infra.servers import ElasticsearchApiStandIn, free_port
from projections.elasticsearch_search import ElasticsearchSearchIndex, elasticsearch_client
from projections.engagements import Counts
from projections.search import TweetDocument
from projections.search_query import SearchQueryError, parse_search_query
from projections.search_ranking import TOKEN_PATTERN
from projections.tantivy_search import WRITER_HEAP_BYTES, TantivySearchIndex
from schemas.entities import extract_hashtags

SEARCH_BATCH = SEARCH_BATCHING.max_records

ROOT = Path(__file__).resolve().parents[1]
TWEETS = DATA_DIR / "tweets.txt.gz"
# The corpus is posted in file order this far apart, ending when the bench starts (127k
# tweets span the 30 days before it, so every recency step holds some), by this many authors.
SPACING = timedelta(seconds=20)
AUTHORS = 500
# Hits per search: the API's default page.
PAGE = 20
# Document-frequency bands single-word queries are drawn from, rare to very common.
BANDS = ((1, 10), (10, 100), (100, 1000), (1000, None))
_TOKENS = regex.compile(TOKEN_PATTERN)
_LETTER = regex.compile(r"\p{L}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="index only the first N tweets")
    parser.add_argument("--queries", type=int, default=400, help="queries per adapter")
    parser.add_argument("--concurrency", type=int, default=2, help="searches in flight")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="queries split in rounds, each run on the adapter then the bare index",
    )
    parser.add_argument(
        "--stand-in-bare-docs",
        type=int,
        default=None,
        help="texts in the stand-in's bare baseline index (default: all)",
    )
    # Its ranked searches scan every document per range filter (~0.5 s each over the corpus).
    parser.add_argument(
        "--stand-in-queries",
        type=int,
        default=300,
        help="the first N of the queries on the Elasticsearch API stand-in",
    )
    parser.add_argument("--posts", type=int, default=50, help="tweets posted end to end")
    parser.add_argument(
        "--post-rate", type=float, default=10.0, help="posts (and deletes) per second"
    )
    parser.add_argument("--poll-ms", type=float, default=10.0, help="pause between polls")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not TWEETS.exists():
        raise SystemExit(f"the search benchmark needs the real tweet texts at {TWEETS}")
    started = time.perf_counter()
    texts = read_texts(args.limit)
    as_of = datetime.now(UTC)
    documents = corpus_documents(texts, as_of)
    queries = sample_queries(texts, args.queries, random.Random(17))
    data_dir = Path(tempfile.mkdtemp(prefix="chirp-bench-search-"))
    stand_in = ElasticsearchApiStandIn(free_port(), data_dir)
    try:
        stand_in.start()
        engines = [
            TantivyBench(data_dir / "tantivy", as_of),
            ElasticsearchBench(
                stand_in.url,
                as_of,
                api_stand_in=True,
                bare_limit=args.stand_in_bare_docs,
                query_limit=args.stand_in_queries,
            ),
        ]
        if os.environ.get("CHIRP_ELASTICSEARCH_URL"):
            engines.append(ElasticsearchBench(os.environ["CHIRP_ELASTICSEARCH_URL"], as_of))
        measured, seconds = {}, {"corpus_and_queries": time.perf_counter() - started}
        for engine in engines:
            begun = time.perf_counter()
            measured[engine.name] = asyncio.run(measure_engine(engine, documents, queries, args))
            seconds[engine.name] = time.perf_counter() - begun
        # Its ~2 GB and its threads are let go before the stack starts.
        stand_in.process.stop()
        begun = time.perf_counter()
        end_to_end = run_end_to_end(texts, args)
        seconds["end_to_end"] = time.perf_counter() - begun
    finally:
        stand_in.process.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "corpus": {
            "tweets": len(texts),
            "authors": AUTHORS,
            "spacing_seconds": SPACING.total_seconds(),
            "queries": query_mix(queries),
        },
        "engines": measured,
        "end_to_end": end_to_end,
        "bench_seconds": round(time.perf_counter() - started),
        "phase_seconds": {phase: round(value) for phase, value in seconds.items()},
        "machine": machine(),
    }
    write_search_report(report, ROOT)


# -- the corpus and the queries --------------------------------------------------------------


def read_texts(limit: int | None) -> list[str]:
    with gzip.open(TWEETS, "rt", encoding="utf-8") as lines:
        texts = lines.read().split("\n")
    if texts[-1] == "":
        texts.pop()
    return texts[:limit]


def corpus_documents(texts: list[str], as_of: datetime) -> list[TweetDocument]:
    """Tweet n by author n mod 500, posted 20 s after tweet n - 1; engagement log-spread
    (a third liked, up to ~1,000 likes) so the boost varies as on a real site."""
    rng = random.Random(5)
    documents = []
    for n, text in enumerate(texts):
        likes = int(2 ** rng.uniform(0, 10)) - 1 if n % 3 == 0 else 0
        counts = Counts(likes, likes // 4 if n % 5 == 0 else 0, n % 2)
        documents.append(
            TweetDocument(
                n + 1,
                n % AUTHORS,
                f"user{n % AUTHORS}",
                text,
                extract_hashtags(text),
                as_of - (len(texts) - n) * SPACING,
                counts,
            )
        )
    return documents


@dataclass(frozen=True)
class BenchQuery:
    """A query as a user types it, and the words a bare engine's plain query looks for."""

    kind: str
    text: str
    words: tuple[str, ...]
    phrase: bool = False


def sample_queries(texts: list[str], count: int, rng: random.Random) -> list[BenchQuery]:
    """Two fifths single words, evenly from each frequency band; the rest in equal parts two
    words of one tweet, a quoted three-word run of one, a hashtag (picked by use) and
    `from:` an author with a word of one of their tweets. Shuffled."""
    tokens = [[token.lower() for token in _TOKENS.findall(text)] for text in texts]
    frequency = Counter(token for words in tokens for token in set(words))
    share = count * 3 // 20
    queries = []
    for low, high in BANDS:
        band = sorted(
            word
            for word, n in frequency.items()
            if low <= n and (high is None or n < high) and _LETTER.search(word)
        )
        kind = f"word, in {low}+ tweets" if high is None else f"word, in {low}-{high - 1} tweets"
        picked = rng.sample(band, min(len(band), (count - 4 * share) // len(BANDS)))
        queries += [BenchQuery(kind, word, (word,)) for word in picked]

    def words_of(n: int) -> list[str]:
        return [token for token in tokens[n] if _LETTER.search(token)]

    def two_words() -> BenchQuery | None:
        words = sorted(set(words_of(rng.randrange(len(texts)))))
        if len(words) >= 2:
            pair = rng.sample(words, 2)
            return BenchQuery("two words", " ".join(pair), tuple(pair))

    def phrase() -> BenchQuery | None:
        # Three tokens in a row, each with a letter (not across a token without one: the
        # engines index a lone emoji variation selector, a mark, as a token).
        words = tokens[rng.randrange(len(texts))]
        if len(words) >= 3:
            start = rng.randrange(len(words) - 2)
            run = tuple(words[start : start + 3])
            if all(_LETTER.search(word) for word in run):
                return BenchQuery("quoted phrase", f'"{" ".join(run)}"', run, phrase=True)

    tagged = [tags for text in texts if (tags := extract_hashtags(text))]

    def hashtag() -> BenchQuery | None:
        tag = rng.choice(rng.choice(tagged))
        return BenchQuery("#hashtag", f"#{tag}", (tag,))

    def author() -> BenchQuery | None:
        n = rng.randrange(len(texts))
        if words := words_of(n):
            word = rng.choice(words)
            return BenchQuery("from: + word", f"from:user{n % AUTHORS} {word}", (word,))

    for make in (two_words, phrase, hashtag, author):
        queries += [_draw(make) for _ in range(share)]
    rng.shuffle(queries)
    return queries


def _draw(make: Callable[[], BenchQuery | None]) -> BenchQuery:
    """The first query `make` builds that the search language accepts."""
    while True:
        query = make()
        if query is not None:
            try:
                parse_search_query(query.text)
                return query
            except SearchQueryError:
                pass


def query_mix(queries: list[BenchQuery]) -> dict[str, int]:
    return dict(sorted(Counter(query.kind for query in queries).items()))


# -- the engines -----------------------------------------------------------------------------


class TantivyBench:
    """The tantivy adapter on disk; its bare baseline: one text field with tantivy's default
    tokenizer, every text added and one commit, searched by term (or phrase) queries."""

    name = "tantivy"

    def __init__(self, directory: Path, as_of: datetime) -> None:
        self.directory = directory
        self.clock = as_of.timestamp
        self.label = f"tantivy {version('tantivy')} (embedded, on disk)"
        self.bare_limit = self.query_limit = None
        # tantivy's "default" tokenizer, to cut the same words the bare index holds.
        self.bare_analyzer = (
            TextAnalyzerBuilder(Tokenizer.simple())
            .filter(Filter.remove_long(40))
            .filter(Filter.lowercase())
            .build()
        )

    async def index_through_adapter(self, documents: list[TweetDocument]) -> list[float]:
        writer = TantivySearchIndex(self.directory / "adapter", writable=True)
        await writer.setup()
        elapsed = await index_in_batches(writer, documents)
        await writer.close()  # waits for its merges: searches start on a quiet index
        self.adapter = TantivySearchIndex(self.directory / "adapter", clock=self.clock)
        await self.adapter.setup()
        return elapsed

    async def bulk_load_bare(self, texts: list[str]) -> float:
        return await asyncio.to_thread(self._bulk_load_bare, texts)

    def _bulk_load_bare(self, texts: list[str]) -> float:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("content")
        self.bare_schema = builder.build()
        (self.directory / "bare").mkdir(parents=True)
        self.bare = tantivy.Index(self.bare_schema, path=str(self.directory / "bare"))
        # The adapter's writer settings, so the two differ only in what they do per document.
        writer = self.bare.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        started = time.perf_counter()
        for text in texts:
            writer.add_document(tantivy.Document(content=text))
        writer.commit()
        seconds = time.perf_counter() - started
        writer.wait_merging_threads()
        self.bare.reload()
        return seconds

    async def search_adapter(self, query: BenchQuery) -> int:
        return len((await self.adapter.search(parse_search_query(query.text), None, PAGE)).hits)

    async def search_bare(self, query: BenchQuery) -> int:
        return await asyncio.to_thread(self._search_bare, query)

    def _search_bare(self, query: BenchQuery) -> int:
        tokens = self.bare_analyzer.analyze(" ".join(query.words))
        terms = [Query.term_query(self.bare_schema, "content", token) for token in tokens]
        if query.phrase and len(tokens) > 1:
            engine_query = Query.phrase_query(self.bare_schema, "content", tokens)
        else:
            engine_query = Query.boolean_query([(Occur.Must, term) for term in terms])
        return len(self.bare.searcher().search(engine_query, PAGE).hits)

    async def close(self) -> None:
        await self.adapter.close()


class ElasticsearchBench:
    """The Elasticsearch adapter as the search agent runs it (a `_bulk` per batch, the
    index's own refresh); its bare baseline: the client's bulk helper into an index with
    the default (dynamic) mapping, searched by match / match_phrase."""

    def __init__(
        self,
        url: str,
        as_of: datetime,
        *,
        api_stand_in: bool = False,
        bare_limit: int | None = None,
        query_limit: int | None = None,
    ) -> None:
        self.url = url
        self.api_stand_in = api_stand_in
        self.clock = as_of.timestamp
        self.bare_limit = bare_limit
        self.query_limit = query_limit
        self.name = "elasticsearch_api_stand_in" if api_stand_in else "elasticsearch"
        self.label = (
            f"Elasticsearch adapter on osmem-server {version('osmem-server')} (API stand-in)"
            if api_stand_in
            else "Elasticsearch adapter on Elasticsearch"
        )
        self.alias = f"bench-search-{uuid.uuid4().hex[:8]}"
        self.bare_index = f"{self.alias}-bare"

    async def index_through_adapter(self, documents: list[TweetDocument]) -> list[float]:
        self.adapter = ElasticsearchSearchIndex(
            elasticsearch_client(self.url, api_stand_in=self.api_stand_in),
            self.alias,
            clock=self.clock,
            replicas=0,
        )
        await self.adapter.setup()
        if not self.api_stand_in:
            self.label += f" {(await self.adapter.client.info())['version']['number']}"
        # The last batch counts once it is searchable: refreshed, not only accepted.
        return await index_in_batches(
            self.adapter,
            documents,
            lambda: self.client.indices.refresh(index=self.adapter.generation_alias),
        )

    @property
    def client(self):
        return self.adapter.client

    async def bulk_load_bare(self, texts: list[str]) -> float:
        await self.client.indices.create(index=self.bare_index)
        actions = (
            {"_index": self.bare_index, "_id": str(n + 1), "content": text}
            for n, text in enumerate(texts)
        )
        started = time.perf_counter()
        await async_bulk(self.client, actions, chunk_size=SEARCH_BATCH)
        await self.client.indices.refresh(index=self.bare_index)
        return time.perf_counter() - started

    async def search_adapter(self, query: BenchQuery) -> int:
        return len((await self.adapter.search(parse_search_query(query.text), None, PAGE)).hits)

    async def search_bare(self, query: BenchQuery) -> int:
        words = " ".join(query.words)
        engine_query = (
            {"match_phrase": {"content": words}}
            if query.phrase
            else {"match": {"content": {"query": words, "operator": "and"}}}
        )
        response = await self.client.search(
            index=self.bare_index,
            query=engine_query,
            size=PAGE,
            source=False,
            track_total_hits=False,
        )
        return len(response["hits"]["hits"])

    async def close(self) -> None:
        await self.client.indices.delete(index=self.bare_index, ignore_unavailable=True)
        await self.adapter.drop()
        await self.adapter.close()


async def index_in_batches(
    index, documents: list[TweetDocument], finish: Callable[[], Awaitable] | None = None
) -> list[float]:
    """Index `documents` in the search agent's batches; the time elapsed after each batch."""
    elapsed = []
    started = time.perf_counter()
    for start in range(0, len(documents), SEARCH_BATCH):
        await index.index(documents[start : start + SEARCH_BATCH])
        elapsed.append(time.perf_counter() - started)
    if finish is not None:
        await finish()
        elapsed[-1] = time.perf_counter() - started
    return elapsed


async def measure_engine(
    engine, documents: list[TweetDocument], queries: list[BenchQuery], args
) -> dict:
    try:
        elapsed = await engine.index_through_adapter(documents)
        bare_texts = [document.content for document in documents[: engine.bare_limit]]
        bare_seconds = await engine.bulk_load_bare(bare_texts)
        searching = await measure_searches(engine, queries[: engine.query_limit], args)
    finally:
        await engine.close()
    # The adapter's rate over the batches that hold the texts the bare index got.
    batches = -(-len(bare_texts) // SEARCH_BATCH)
    same_rate = min(batches * SEARCH_BATCH, len(documents)) / elapsed[batches - 1]
    adapter_rate = len(documents) / elapsed[-1]
    bare_rate = len(bare_texts) / bare_seconds
    return {
        "label": engine.label,
        "indexing": {
            "documents": len(documents),
            "batch": SEARCH_BATCH,
            "seconds": round(elapsed[-1], 1),
            "docs_per_s": round(adapter_rate),
            "docs_per_s_on_the_bare_texts": round(same_rate),
            "baseline_bare_bulk": {
                "documents": len(bare_texts),
                "seconds": round(bare_seconds, 1),
                "docs_per_s": round(bare_rate),
            },
            "ratio_to_bare": round(same_rate / bare_rate, 3),
        },
        "search": searching,
    }


async def measure_searches(engine, queries: list[BenchQuery], args) -> dict:
    """Every query on the adapter and its words on the bare index, in rounds (a slice of the
    queries on one, then the same slice on the other), so drift on a shared machine hits both."""
    runs = {"adapter": ([], []), "bare": ([], [])}  # (samples, seconds of each round)
    hits = {"adapter": 0, "bare": 0}
    by_kind = defaultdict(lambda: {"adapter": [], "bare": []})
    for round_number in range(args.rounds):
        chunk = queries[round_number :: args.rounds]
        for side, search in (("adapter", engine.search_adapter), ("bare", engine.search_bare)):
            timed, seconds = await run_queries(search, chunk, args.concurrency)
            runs[side][0].extend(sample for _, sample, _ in timed)
            runs[side][1].append(seconds)
            hits[side] += sum(found > 0 for _, _, found in timed)
            for query, sample, _ in timed:
                by_kind[query.kind][side].append(sample)
    result = {
        "queries": len(queries),
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "page": PAGE,
    }
    for side, (samples, seconds) in runs.items():
        result[side] = summary(samples, sum(seconds)) | {"queries_with_hits": hits[side]}
    result["by_kind"] = {
        kind: {side: p50_p99(samples) for side, samples in sides.items()}
        for kind, sides in sorted(by_kind.items())
    }
    return result


async def run_queries(search, queries: list[BenchQuery], concurrency: int):
    """Each query once, from `concurrency` workers: [(query, seconds, hits)], wall seconds."""
    timed = []
    pending = iter(queries)

    async def worker() -> None:
        for query in pending:
            started = time.perf_counter()
            found = await search(query)
            timed.append((query, time.perf_counter() - started, found))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return timed, time.perf_counter() - started


if __name__ == "__main__":
    main()
