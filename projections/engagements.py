"""The engagement read model: likes, retweets, replies and quotes, and the counts they make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Counts:
    likes: int = 0
    retweets: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass(frozen=True)
class RetweetRow:
    """A stored retweet: the sort key of its timeline entries, and whether it stands."""

    sort_key: int
    active: bool


class EngagementStore(Protocol):
    """Set semantics: liking twice is one like; counts move only on a real change. The writes
    run in a batch's PostgreSQL transaction (`conn`), planned by projections/engagement_plan."""

    async def setup(self) -> None: ...

    async def retweet_rows(
        self, conn, keys: set[tuple[int, int]]
    ) -> dict[tuple[int, int], RetweetRow]:
        """The stored (tweet, user) retweet rows among `keys`, locked for the batch."""

    async def write_likes(
        self, conn, unlikes: set[tuple[int, int]], likes: dict[tuple[int, int], datetime]
    ) -> list[tuple[int, int]]:
        """Delete `unlikes`, then insert `likes` not there yet: (tweet, +1/-1) per real change."""

    async def write_retweets(self, conn, rows: dict[tuple[int, int], RetweetRow]) -> None: ...

    async def write_replies(
        self, conn, replies: set[tuple[int, int]], unreplies: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Add (parent, reply) rows, then remove others: (parent, +1/-1) per real change."""

    async def write_quotes(
        self, conn, quotes: set[tuple[int, int]], unquotes: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Add (quoted, quote) rows, then remove others: (quoted, +1/-1) per real change."""

    async def move_counts(self, conn, deltas: dict[int, tuple[int, int, int, int]]) -> None:
        """Move tweets' (likes, retweets, replies, quotes) counts, never below 0."""

    async def counts(self, tweet_ids: list[int], conn=None) -> dict[int, Counts]: ...

    async def liked(self, user_id: int) -> list[int]:
        """Every tweet a user likes."""

    async def retweeted(self, user_id: int) -> list[int]:
        """Every tweet a user retweeted."""

    async def retweets_by(
        self, user_ids: list[int], limit: int, before: int | None = None
    ) -> list[tuple[int, int, int]]:
        """The newest active retweets by any of `user_ids` with sort key < before:
        (sort key, tweet id, retweeter)."""

    async def likers(self, tweet_id: int, limit: int) -> list[int]:
        """The first users to like a tweet, in order."""
