"""The search read model: tweets indexed for full-text search, ranked, paged by an opaque cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from projections.engagements import Counts
from projections.search_query import SearchQuery
from projections.search_ranking import Personal
from projections.user_search import UserDocument, UserHit, UserQuery


class SearchEngineError(RuntimeError):
    """The engine failed or could not be reached; the caller may retry (API: 503, agent: retry)."""


@dataclass(frozen=True)
class TweetDocument:
    """A tweet as the search index holds it: its text, who wrote it, when, and its engagement."""

    tweet_id: int
    author_id: int
    author_username: str
    content: str
    hashtags: tuple[str, ...]
    created_at: datetime
    counts: Counts = Counts()  # noqa: RUF009 - frozen: one shared default is safe


@dataclass(frozen=True)
class SearchHit:
    tweet_id: int
    score: float


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    # Opaque; None when there are no more hits.
    next_cursor: str | None


class SearchIndex(Protocol):
    """Port of the search index; tantivy (embedded default) and Elasticsearch adapters share
    one contract (tests/integration/test_search_contract.py) and one ranking (search_ranking)."""

    async def setup(self) -> None:
        """Create the index if it is missing."""

    async def index(self, documents: Sequence[TweetDocument]) -> None:
        """Add or replace `documents` as one batch; indexing the same document again changes
        nothing. Searchable once this returns (tantivy; Elasticsearch with refresh=True) or
        within the engine's refresh interval (Elasticsearch by default: 1 s)."""

    async def delete(self, tweet_ids: Sequence[int]) -> None:
        """Remove tweets from the index; unknown or already deleted ids are ignored."""

    async def erase_users(self, users: Mapping[int, str]) -> None:
        """Remove these users (id -> username) and every tweet of theirs, of any age (their
        accounts are deleted); unknown users are ignored."""

    async def update_engagement(self, counts: Mapping[int, Counts]) -> None:
        """Set the counts (by tweet id) that boost these tweets' ranking: absolute values, so
        applying them twice changes nothing; tweets not indexed are ignored."""

    async def search(
        self,
        query: SearchQuery,
        cursor: str | None = None,
        limit: int = 20,
        personal: Personal | None = None,
    ) -> SearchPage:
        """The next `limit` hits of `query` in rank order after `cursor` (None: the first page),
        favouring `personal`'s authors (search_ranking). Raises SearchCursorError for a
        cursor that is not one of this query's."""

    async def tagged(self, hashtag: str, before: int | None, limit: int) -> list[int]:
        """The ids of the tweets carrying `hashtag` (case-folded, as indexed) with id below
        `before` (None: from the newest), newest first, at most `limit`."""

    async def index_users(self, users: Sequence[UserDocument]) -> None:
        """Add or replace users (username, display name) as one batch; idempotent."""

    async def user_candidates(self, query: UserQuery, count: int) -> list[UserHit]:
        """The `count` users best matching `query` by text alone (projections/user_search's
        tiers), by score then id; ranking them by followers is find_users' part."""

    async def ping(self) -> None:
        """Raise unless the engine answers (readiness)."""

    async def promote(self) -> None:
        """Make this generation of the index the one the engine serves by default (an alias
        switch on Elasticsearch; nothing on tantivy, whose readers open the directory in use)."""

    async def drop(self) -> None:
        """Delete this generation of the index: one neither read nor written any more."""

    async def close(self) -> None:
        """Release the engine's resources."""
