"""Relevance on 127k real tweets (TweetEval, Barbieri et al., Findings of EMNLP 2020), per adapter.

Every expectation is derived from the tweet texts by this file's own reading of them: the
tweets a query must find, scanned from the tokens; the order the documented ranking
(search_ranking) implies, recomputed here with a reference BM25. None comes from an engine.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import math
import shutil
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import regex

from projections.elasticsearch_search import ElasticsearchSearchIndex, elasticsearch_client
from projections.engagements import Counts
from projections.search import TweetDocument
from projections.search_query import parse_search_query
from projections.search_ranking import (
    TOKEN_PATTERN,
    engagement,
    engagement_boost,
    epoch_ms,
    recency_factor,
)
from projections.tantivy_search import TantivySearchIndex
from schemas.entities import extract_hashtags
from tests.integration.conftest import NO_REAL_ELASTICSEARCH, REAL_ELASTICSEARCH_URL

TWEETS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tweets.txt.gz"
# Every search runs at this moment; the corpus was posted over the 30 days before it.
AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
SPACING = timedelta(seconds=20)
AUTHORS = 500
# The reference BM25 is Lucene's (tantivy's is the same times k1 + 1); engines quantize long
# documents' lengths, so a hit counts as rightly ranked within this of the place it holds.
TOLERANCE = 0.05
K1, B = 1.2, 0.75
_TOKENS = regex.compile(TOKEN_PATTERN)


@dataclass
class Corpus:
    documents: list[TweetDocument]
    tokens: list[list[str]]  # lowercased, as the engines' tokenizer cuts them (not stemmed)
    postings: dict[str, set[int]]  # token -> tweet ids

    def reference_score(self, tweet_id: int, words: list[set[str]]) -> float:
        """search_ranking's formula, with Lucene's BM25 over the word forms given."""
        tokens = self.tokens[tweet_id - 1]
        average_length = self.total_length / len(self.tokens)
        relevance = 0.0
        for forms in words:
            frequency = sum(token in forms for token in tokens)
            matching = len(set().union(*(self.postings.get(form, ()) for form in forms)))
            idf = math.log(1 + (len(self.tokens) - matching + 0.5) / (matching + 0.5))
            relevance += (
                idf * frequency / (frequency + K1 * (1 - B + B * len(tokens) / average_length))
            )
        return relevance * self.weight(tweet_id)

    def weight(self, tweet_id: int) -> float:
        """recency x engagement boost: the ranking's part that does not depend on the text."""
        document = self.documents[tweet_id - 1]
        age_ms = epoch_ms(AS_OF) - epoch_ms(document.created_at)
        return recency_factor(age_ms) * engagement_boost(engagement(document.counts))

    def having(self, *words: set[str]) -> set[int]:
        """Tweets that contain, for each word, at least one of its forms."""
        found = None
        for forms in words:
            ids = set().union(*(self.postings.get(form, ()) for form in forms))
            found = ids if found is None else found & ids
        return found or set()

    def with_phrase(self, *positions: set[str]) -> set[int]:
        """Tweets with consecutive tokens, each one of the forms for its position."""
        candidates = self.having(*positions)
        return {
            tweet_id
            for tweet_id in candidates
            if _contains_run(self.tokens[tweet_id - 1], positions)
        }

    @property
    def total_length(self) -> int:
        return sum(len(tokens) for tokens in self.tokens)


def _contains_run(tokens: list[str], positions) -> bool:
    width = len(positions)
    return any(
        all(tokens[start + n] in forms for n, forms in enumerate(positions))
        for start in range(len(tokens) - width + 1)
    )


def _document(line_number: int, text: str, total: int) -> TweetDocument:
    """Line n (from 0): posted in order, 20 s apart, by one of 500 authors; a third of the
    tweets have likes, spread evenly in log scale up to ~1,000, some have retweets and replies."""
    spread = (line_number * 7919) % 101
    likes = int(2 ** (spread / 10)) - 1 if line_number % 3 == 0 else 0
    return TweetDocument(
        tweet_id=line_number + 1,
        author_id=line_number % AUTHORS,
        author_username=f"user{line_number % AUTHORS}",
        content=text,
        hashtags=extract_hashtags(text),
        created_at=AS_OF - (total - line_number) * SPACING,
        counts=Counts(likes, likes // 4 if line_number % 5 == 0 else 0, line_number % 2),
    )


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    if not TWEETS.exists():
        pytest.skip(f"the real tweet texts are not at {TWEETS} (see ../shared/data/README.md)")
    with gzip.open(TWEETS, "rt", encoding="utf-8") as lines:
        texts = lines.read().split("\n")
    if texts[-1] == "":
        texts.pop()
    documents = [_document(n, text, len(texts)) for n, text in enumerate(texts)]
    tokens = [[token.lower() for token in _TOKENS.findall(text)] for text in texts]
    postings = defaultdict(set)
    for tweet_id, words in enumerate(tokens, start=1):
        for word in words:
            postings[word].add(tweet_id)
    return Corpus(documents, tokens, dict(postings))


BATCH = 5000


async def _load(index, corpus: Corpus) -> None:
    await index.setup()
    for start in range(0, len(corpus.documents), BATCH):
        await index.index(corpus.documents[start : start + BATCH])
    if isinstance(index, ElasticsearchSearchIndex):
        await index.client.indices.refresh(index=index.generation_alias)


@dataclass
class LoadedIndex:
    """An adapter's index holding the corpus; `open()` gives a fresh adapter over it."""

    open: Callable[[], object]
    # Lucene's BM25 (tantivy, Elasticsearch); the stand-in scores with bleve's own variant.
    lucene_bm25: bool = True
    api_stand_in: bool = False


STAND_IN = "elasticsearch adapter on the API stand-in"


@pytest.fixture(
    scope="module",
    params=[
        "tantivy",
        # Loading 127k tweets into the stand-in takes it a minute or more of CPU.
        pytest.param(STAND_IN, marks=pytest.mark.slow),
        "elasticsearch",
    ],
)
def loaded(request, corpus) -> LoadedIndex:
    """The corpus in one adapter's index, loaded once per adapter."""
    clock = AS_OF.timestamp
    if request.param == "tantivy":
        directory = Path(tempfile.mkdtemp(prefix="chirp-relevance-"))
        asyncio.run(_load_and_close(TantivySearchIndex(directory, writable=True), corpus))
        yield LoadedIndex(lambda: TantivySearchIndex(directory, clock=clock))
        shutil.rmtree(directory, ignore_errors=True)
        return
    if request.param == "elasticsearch":
        if not REAL_ELASTICSEARCH_URL:
            pytest.skip(NO_REAL_ELASTICSEARCH)
        url, stand_in = REAL_ELASTICSEARCH_URL, False
    else:
        url, stand_in = request.getfixturevalue("elasticsearch_api_stand_in").url, True
    alias = f"relevance-{uuid.uuid4().hex[:8]}"

    def opened():
        return ElasticsearchSearchIndex(
            elasticsearch_client(url, api_stand_in=stand_in), alias, clock=clock
        )

    asyncio.run(_load_and_close(opened(), corpus))
    yield LoadedIndex(opened, lucene_bm25=not stand_in, api_stand_in=stand_in)
    asyncio.run(_delete_index(opened()))


async def _load_and_close(index, corpus: Corpus) -> None:
    try:
        await _load(index, corpus)
    finally:
        await index.close()


async def _delete_index(index: ElasticsearchSearchIndex) -> None:
    await index.drop()
    await index.close()


def search(loaded: LoadedIndex, q: str, pages: int = 1, limit: int = 100):
    """Up to `pages` pages of hits for `q`, as [(tweet_id, score)]."""

    async def main():
        index = loaded.open()
        await index.setup()
        hits, cursor, query = [], None, parse_search_query(q)
        try:
            for _ in range(pages):
                page = await index.search(query, cursor, limit)
                hits += [(hit.tweet_id, hit.score) for hit in page.hits]
                cursor = page.next_cursor
                if cursor is None:
                    break
        finally:
            await index.close()
        return hits

    return asyncio.run(main())


def forms(*words: str) -> set[str]:
    return set(words)


# (query, the forms of each word as the English stemmer conflates them)
WORD_QUERIES = [
    ("Shartlesville", [forms("shartlesville")]),
    ("pelham", [forms("pelham")]),
    ("sofarsounds", [forms("sofarsounds")]),
    ("irma", [forms("irma")]),
    ("yosemite", [forms("yosemite", "yosemite's")]),
    ("pregnant", [forms("pregnant")]),
    ("beyonce", [forms("beyonce", "beyoncé", "beyonce's", "beyoncé's", "beyoncé’s")]),
    ("seahawks", [forms("seahawks", "seahawk", "seahawk's", "seahawks'")]),
    ("harvey", [forms("harvey", "harvey's", "harvey’s", "harveys")]),
    ("eclipse", [forms("eclipse", "eclipses", "eclipsed", "eclipse's")]),
    ("solar eclipse", [forms("solar"), forms("eclipse", "eclipses", "eclipsed", "eclipse's")]),
    ("Tampa Florida", [forms("tampa", "tampa's"), forms("florida", "florida's", "florida’s")]),
    ("netflix", [forms("netflix", "netflix's")]),
    (
        "marathon runners",
        [
            forms("marathon", "marathons", "marathoner", "marathoners"),
            forms("runner", "runners", "runner's"),
        ],
    ),
]


# A quirk of osmem-server 0.1.6 (an API stand-in, not Elasticsearch): it indexes and matches
# with the Porter stemmer whatever the mapping asks, though its _analyze API applies porter2:
# `Harvey's` is indexed as `harvey'`, so harvey does not find it there. tantivy and
# Elasticsearch apply porter2, which removes the 's.
@pytest.mark.parametrize("q, words", WORD_QUERIES, ids=[q for q, _ in WORD_QUERIES])
def test_word_queries_find_exactly_the_tweets_with_those_words(loaded, corpus, q, words):
    if loaded.api_stand_in:
        # Its stemming quirk (above): possessive forms do not match there.
        words = [
            {form for form in forms if not form.endswith(("'s", "’s", "'"))} for forms in words
        ]
    expected = corpus.having(*words)
    assert expected, f"{q!r} should match something in the corpus"
    hits = search(loaded, q, pages=10)
    found = [tweet_id for tweet_id, _ in hits]
    assert len(found) == len(set(found))
    assert set(found) == expected
    _assert_same_text_ordered_by_recency_and_engagement(corpus, hits)


@pytest.mark.parametrize("q, words", WORD_QUERIES, ids=[q for q, _ in WORD_QUERIES])
def test_word_queries_rank_by_bm25_times_recency_times_engagement(loaded, corpus, q, words):
    if not loaded.lucene_bm25:
        pytest.skip(
            "the API stand-in scores with bleve's BM25, whose length normalisation is "
            "not Lucene's: ranking against the reference needs tantivy or Elasticsearch"
        )
    hits = search(loaded, q, pages=10)
    _assert_ranked_like_the_reference(corpus, hits, words)


def test_the_only_tweet_from_shartlesville_comes_first_for_a_broader_query(loaded, corpus):
    only = corpus.having(forms("shartlesville"))
    assert len(only) == 1
    hits = search(loaded, "road trip views Shartlesville")
    assert [tweet_id for tweet_id, _ in hits] == list(only)


PHRASES = [
    (
        '"garden of the gods"',
        [forms("garden", "gardens"), forms("of"), forms("the"), forms("god", "gods", "god's")],
    ),
    (
        '"happiest place on earth"',
        [forms("happiest"), forms("place", "places"), forms("on"), forms("earth", "earth's")],
    ),
    ('"solar eclipse"', [forms("solar"), forms("eclipse", "eclipses", "eclipsed", "eclipse's")]),
    (
        '"kim fatty the third"',
        [forms("kim", "kim's"), forms("fatty"), forms("the"), forms("third")],
    ),
]


@pytest.mark.parametrize("q, positions", PHRASES, ids=[q for q, _ in PHRASES])
def test_phrase_queries_find_exactly_the_tweets_with_the_words_in_that_order(
    loaded, corpus, q, positions
):
    expected = corpus.with_phrase(*positions)
    assert expected
    hits = search(loaded, q, pages=10)
    assert {tweet_id for tweet_id, _ in hits} == expected
    _assert_same_text_ordered_by_recency_and_engagement(corpus, hits)


def test_every_top_hit_of_a_common_phrase_contains_it(loaded, corpus):
    positions = [forms("new"), forms("york", "york's")]
    expected = corpus.with_phrase(*positions)
    assert len(expected) > 1000
    hits = search(loaded, '"New York"')
    assert len(hits) == 100 and {tweet_id for tweet_id, _ in hits} <= expected
    _assert_same_text_ordered_by_recency_and_engagement(corpus, hits)


def test_a_hashtag_pages_through_exactly_the_tweets_tagged_with_it(loaded, corpus):
    expected = {d.tweet_id for d in corpus.documents if "sundayfunday" in d.hashtags}
    assert 100 < len(expected) < 1000
    hits = search(loaded, "#SundayFunday", pages=20, limit=20)
    found = [tweet_id for tweet_id, _ in hits]
    assert len(found) == len(set(found)) and set(found) == expected


def test_a_hashtag_with_digits_is_a_tag_not_a_word(loaded, corpus):
    expected = {d.tweet_id for d in corpus.documents if "eclipse2017" in d.hashtags}
    assert {tweet_id for tweet_id, _ in search(loaded, "#eclipse2017")} == expected


def test_a_hashtag_and_a_word_need_both(loaded, corpus):
    tagged = {d.tweet_id for d in corpus.documents if "disneyland" in d.hashtags}
    expected = tagged & corpus.having(forms("fireworks", "firework"))
    assert expected
    assert {tweet_id for tweet_id, _ in search(loaded, "#disneyland fireworks")} == expected


def test_from_alone_ranks_by_recency_and_engagement_exactly(loaded, corpus):
    expected = sorted(
        (d.tweet_id for d in corpus.documents if d.author_username == "user42"),
        key=lambda tweet_id: (corpus.weight(tweet_id), tweet_id),
        reverse=True,
    )
    hits = search(loaded, "from:user42", pages=5)
    assert [tweet_id for tweet_id, _ in hits] == expected


def test_from_and_a_word_need_both(loaded, corpus):
    expected = {
        d.tweet_id for d in corpus.documents if d.author_username == "user7"
    } & corpus.having(forms("love", "loves", "loved", "loving", "love's"))
    assert expected
    assert {tweet_id for tweet_id, _ in search(loaded, "love from:USER7")} == expected


def test_since_and_until_select_utc_days(loaded, corpus):
    start, end = (
        datetime(2024, 5, 20, tzinfo=UTC),
        datetime(2024, 5, 22, tzinfo=UTC),
    )
    expected = {
        d.tweet_id
        for d in corpus.documents
        if start <= d.created_at < end
        and d.tweet_id in corpus.having(forms("beach", "beaches", "beach's"))
    }
    assert expected
    hits = search(loaded, "beach since:2024-05-20 until:2024-05-22", pages=10)
    assert {tweet_id for tweet_id, _ in hits} == expected


def test_a_date_range_alone_ranks_by_recency_and_engagement_exactly(loaded, corpus):
    since = datetime(2024, 5, 31, tzinfo=UTC)
    expected = sorted(
        (d.tweet_id for d in corpus.documents if d.created_at >= since),
        key=lambda tweet_id: (corpus.weight(tweet_id), tweet_id),
        reverse=True,
    )
    hits = search(loaded, "since:2024-05-31", pages=2)
    assert [tweet_id for tweet_id, _ in hits] == expected[:200]


def _assert_ranked_like_the_reference(corpus: Corpus, hits, words) -> None:
    """The top 10 holds the reference's top 10, up to near ties (TOLERANCE)."""
    found = [tweet_id for tweet_id, _ in hits]
    reference = {tweet_id: corpus.reference_score(tweet_id, words) for tweet_id in found}
    best = sorted(reference.values(), reverse=True)
    top = min(10, len(found))
    cut = best[top - 1]
    assert reference[found[0]] >= best[0] * (1 - TOLERANCE), "the first hit is not the best"
    for tweet_id in found[:top]:
        assert reference[tweet_id] >= cut * (1 - TOLERANCE), f"{tweet_id} is not a top hit"
    clearly_top = {t for t, score in reference.items() if score > cut * (1 + TOLERANCE)}
    assert clearly_top <= set(found[:top]), "a clearly better hit is missing from the top"


def _assert_same_text_ordered_by_recency_and_engagement(corpus: Corpus, hits) -> None:
    """Hits with the same tokens have the same relevance: their order and score ratios are
    recency x engagement alone."""
    by_text = defaultdict(list)
    for place, (tweet_id, score) in enumerate(hits):
        by_text[tuple(corpus.tokens[tweet_id - 1])].append((place, tweet_id, score))
    for same in by_text.values():
        for (_, first, first_score), (_, second, second_score) in itertools.pairwise(same):
            assert (corpus.weight(first), first) > (corpus.weight(second), second)
            assert second_score / first_score == pytest.approx(
                corpus.weight(second) / corpus.weight(first), rel=1e-3
            )


def test_the_corpus_has_the_shape_the_readme_describes(corpus):
    assert len(corpus.documents) == 127_550
    tagged = sum(bool(d.hashtags) for d in corpus.documents) / len(corpus.documents)
    assert 0.40 < tagged < 0.50
    assert Counter(d.author_username for d in corpus.documents)["user42"] == 256
