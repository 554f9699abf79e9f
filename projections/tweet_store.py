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


class TweetStore(Protocol):
    """Port of the tweet store; PostgreSQL (default) and Cassandra adapters share one contract."""

    async def setup(self) -> None:
        """Create tables if missing."""

    async def save(self, tweet: StoredTweet) -> bool:
        """Insert a tweet; saving it again changes nothing. False if it was deleted already
        (a redelivered post after its deletion), which must then change nothing anywhere."""

    async def delete(self, tweet_id: int, author_id: int) -> int | None:
        """Mark a tweet deleted (a tombstone, so a redelivered post cannot revive it);
        return what it replied to, also when it was deleted before."""

    async def get_many(self, tweet_ids: list[int]) -> dict[int, StoredTweet]:
        """The live (not deleted) tweets among `tweet_ids`."""

    async def parents(self, tweet_ids: list[int]) -> dict[int, int]:
        """What each of `tweet_ids` that is a reply replied to, deleted ones included."""

    async def by_author(self, author_id: int, before: int | None, limit: int) -> list[StoredTweet]:
        """An author's live tweets with id < before, newest first."""

    async def by_authors(self, author_ids: list[int], before: int | None,
                         limit: int) -> list[StoredTweet]:
        """Live tweets of any of `author_ids` with id < before, newest first."""

    async def replies(self, tweet_id: int, after: int | None, limit: int) -> list[StoredTweet]:
        """Live replies to a tweet with id > after, oldest first."""
