"""The social graph read model: users with their counts, and who follows whom."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    display_name: str
    bio: str
    created_at: datetime
    followers_count: int
    following_count: int
    tweet_count: int


class GraphStore(Protocol):
    async def setup(self) -> None: ...

    async def add_user(self, user_id: int, username: str, display_name: str, bio: str,
                       created_at: datetime) -> None:
        """Insert a user; inserting again changes nothing."""

    async def update_profile(self, user_id: int, display_name: str | None, bio: str | None) -> None: ...

    async def follow(self, follower_id: int, followee_id: int) -> bool:
        """Record the edge; True if it was new (counts moved), False if it existed."""

    async def unfollow(self, follower_id: int, followee_id: int) -> bool:
        """Remove the edge; True if it existed (counts moved)."""

    async def count_tweet(self, author_id: int, tweet_id: int, delta: int) -> None:
        """Move an author's tweet count, once per tweet and direction."""

    async def mark_pulled(self, user_id: int) -> None:
        """Remember that fan-out skipped a tweet of this author (celebrity path)."""

    async def pulled_authors(self) -> list[int]: ...

    async def profiles(self, user_ids: list[int]) -> dict[int, Profile]: ...

    async def follower_count(self, user_id: int) -> int: ...

    def followers(self, user_id: int, batch_size: int) -> AsyncIterator[list[int]]:
        """Every follower id of a user, in batches."""

    async def following(self, user_id: int) -> list[int]: ...

    async def follower_page(self, user_id: int, after: int | None, limit: int) -> list[int]: ...

    async def following_page(self, user_id: int, after: int | None, limit: int) -> list[int]: ...
