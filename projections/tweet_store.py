"""The tweet store read model: tweets by id, by author newest first, and replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredTweet:
    tweet_id: int
    author_id: int
    content: str
    created_at: datetime
    reply_to: int | None = None
    deleted: bool = False
    quote_of: int | None = None
    # The users the tweet's mentions named when it was posted (TweetPosted.mentioned_ids), in
    # the order of the mentions; empty for tweets stored before the store kept them.
    mentioned_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TweetState:
    """What planning a batch needs of a stored tweet (projections/tweet_plan.py)."""

    deleted: bool
    reply_to: int | None
    quote_of: int | None = None


@dataclass(frozen=True)
class ThreadTweet:
    """A tweet of a conversation as the store links it: shown, or a placeholder if deleted."""

    tweet_id: int
    deleted: bool
    reply_to: int | None


class TweetStore(Protocol):
    """Port of the tweet store; PostgreSQL (default) and Cassandra adapters share one contract."""

    async def setup(self) -> None:
        """Create tables if missing."""

    async def states(self, tweet_ids: list[int], conn=None) -> dict[int, TweetState]:
        """The stored state of those of `tweet_ids` the store holds, deleted ones included
        (`conn`: the batch's PostgreSQL transaction, where the store is PostgreSQL)."""

    async def write(self, new_rows: list[StoredTweet], deletions: list[int], conn=None) -> None:
        """Insert tweets the store did not hold (tombstones included) and mark stored ones
        deleted: a batch's plan (projections/tweet_plan.py)."""

    async def erase_authors(self, author_ids: list[int], conn=None) -> list[int]:
        """Remove every tweet of these authors, deleted ones too (their accounts are
        deleted); the ids of the rows removed."""

    async def newest_by_each(
        self, author_ids: list[int], limit: int, conn=None
    ) -> dict[int, list[int]]:
        """Each author's newest live tweet ids, newest first, at most `limit` each."""

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        """The live (not deleted) tweets among `tweet_ids`."""

    async def parents(self, tweet_ids: list[int]) -> dict[int, int]:
        """What each of `tweet_ids` that is a reply replied to, deleted ones included."""

    async def by_author(self, author_id: int, before: int | None, limit: int) -> list[StoredTweet]:
        """An author's live tweets with id < before, newest first."""

    async def by_authors(
        self, author_ids: list[int], before: int | None, limit: int
    ) -> list[StoredTweet]:
        """Live tweets of any of `author_ids` with id < before, newest first."""

    async def replies(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        """Live replies to a tweet with id > after, oldest first."""

    async def quotes(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        """Live quote tweets of a tweet with id > after, oldest first."""

    async def ancestors(self, tweet_id: int, limit: int) -> list[ThreadTweet]:
        """What `tweet_id` replies to, up to the root (at most `limit`), root first; deleted
        ones included, and a parent the store does not hold ends the chain as deleted."""

    async def descendants(self, tweet_id: int, after: int | None, limit: int) -> list[ThreadTweet]:
        """The replies below `tweet_id` depth first (each reply followed by its own replies,
        siblings oldest first), those after the descendant `after`, at most `limit`; a deleted
        reply is included (as deleted) only when replies to it are stored."""
