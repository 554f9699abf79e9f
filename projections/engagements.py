"""The engagement read model: likes, retweets and replies, and the counts they make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Counts:
    likes: int = 0
    retweets: int = 0
    replies: int = 0


@dataclass(frozen=True)
class Change:
    """The result of applying one engagement: whether it changed anything, and the new counts."""

    changed: bool
    counts: Counts


class EngagementStore(Protocol):
    """Set semantics: liking twice is one like; counts move only on a real change."""

    async def setup(self) -> None: ...

    async def like(self, tweet_id: int, user_id: int, liked_at: datetime) -> Change: ...

    async def unlike(self, tweet_id: int, user_id: int) -> Change: ...

    async def retweet(self, tweet_id: int, user_id: int, sort_key: int) -> tuple[Change, int]:
        """Record a retweet; also return the sort key its timeline entries carry."""

    async def unretweet(self, tweet_id: int, user_id: int) -> tuple[Change, int | None]:
        """Withdraw a retweet; also return the sort key its timeline entries were made with
        (also when it was withdrawn before, so a redelivery can finish the clean-up)."""

    async def add_reply(self, parent_id: int, reply_id: int) -> Change: ...

    async def remove_reply(self, parent_id: int, reply_id: int) -> Change: ...

    async def counts(self, tweet_ids: list[int]) -> dict[int, Counts]: ...

    async def liked(self, user_id: int) -> list[int]:
        """Every tweet a user likes."""

    async def retweeted(self, user_id: int) -> list[int]:
        """Every tweet a user retweeted."""

    async def retweets_by(self, user_ids: list[int], limit: int,
                          before: int | None = None) -> list[tuple[int, int, int]]:
        """The newest active retweets by any of `user_ids` with sort key < before:
        (sort key, tweet id, retweeter)."""

    async def likers(self, tweet_id: int, limit: int) -> list[int]:
        """The first users to like a tweet, in order."""
