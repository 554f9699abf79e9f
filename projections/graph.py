"""The social graph read model: users with their counts, and who follows whom."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from projections.graph_plan import GraphPlan


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    display_name: str
    bio: str
    location: str
    website: str
    created_at: datetime
    followers_count: int
    following_count: int
    tweet_count: int
    protected: bool = False


@dataclass(frozen=True)
class Suggestion:
    """A user to follow: how many of the reader's followees follow them (0: a most-followed
    user filling the page), and their follower count."""

    user_id: int
    followed_by_followees: int
    followers_count: int


@dataclass(frozen=True)
class EdgeChanges:
    """What a batch's edges really changed: (follower, followee, +1/-1) of each follow
    inserted or deleted (what counts move by); the follows blocks ended; the follows of the
    batch not made because a later block of their pair ended them already."""

    moved: list[tuple[int, int, int]]
    ended: list[tuple[int, int]]
    refused: set[tuple[int, int]]
    # Of the follows the batch's blocks (both ways) and unfollows name, those still there:
    # followed again after the block was lifted or the unfollow (a later event, applied
    # first). Nothing takes them away.
    kept: set[tuple[int, int]] = field(default_factory=set)


class GraphStore(Protocol):
    """Writes run in a batch's PostgreSQL transaction (`conn`), planned by
    projections/graph_plan."""

    async def setup(self) -> None: ...

    async def stored_users(self, conn, user_ids: set[int]) -> set[int]: ...

    async def write_users(self, conn, plan: GraphPlan) -> None:
        """Insert the plan's new users and apply its profile changes to stored ones."""

    async def write_edges(self, conn, plan: GraphPlan) -> EdgeChanges:
        """Apply the plan's blocks, mutes, unfollows and follows: what really changed."""

    async def count_tweets(
        self, conn, counted: set[tuple[int, int]], uncounted: set[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Gate tweet counts per (tweet, author): (author, +1/-1) for each that really moved."""

    async def move_counts(self, conn, deltas: dict[int, tuple[int, int, int]]) -> None:
        """Move users' (followers, following, tweets) counts by these deltas."""

    async def follower_counts(self, conn, user_ids: set[int]) -> dict[int, int]: ...

    async def followers_of(self, conn, user_ids: set[int]) -> dict[int, list[int]]:
        """Every follower of each of `user_ids`."""

    async def mark_pulled(self, conn, user_ids: set[int]) -> None:
        """Remember that fan-out skipped tweets of these authors (celebrity path)."""

    async def pulled_authors(self) -> list[int]: ...

    async def summaries(self, conn, user_ids: set[int]) -> dict[int, tuple[str, str, bool]]:
        """(username, display name, protected) of each stored user among `user_ids`, in the
        batch's transaction: what the user cache holds."""

    async def safety_states(
        self, conn, pairs: set[tuple[int, int]], mutes: set[tuple[int, int]]
    ) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
        """In a batch's transaction, after its writes: of the (lower id, higher id) `pairs`,
        those a block stands between (either way); of the (muter, muted) `mutes`, those that
        hold. What the per-user hidden and muted sets are set to."""

    async def hidden_from(self, user_id: int) -> list[int]:
        """The users a block stands between `user_id` and, either way."""

    async def muted_by(self, user_id: int) -> list[int]:
        """The users `user_id` mutes."""

    async def blocks_between(self, user_id: int, other_id: int) -> tuple[bool, bool]:
        """(whether `other_id` blocks `user_id`, whether `user_id` blocks `other_id`)."""

    async def profiles(self, user_ids: list[int]) -> dict[int, Profile]: ...

    async def profile_by_username(self, username: str) -> Profile | None:
        """The user holding `username`, matched case-insensitively."""

    async def followers_counts(self, user_ids: list[int]) -> dict[int, int]:
        """Each user's follower count (0 for one with none), outside any batch."""

    async def suggestions(self, user_id: int, limit: int) -> list[Suggestion]:
        """Whom `user_id` might follow, best first (docs/read-models.md, who to follow)."""

    async def following(self, user_id: int) -> list[int]: ...

    async def follow_request_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        """Who waits for `user_id`'s approval to follow them, by id."""

    async def blocked_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        """The users `user_id` blocks, by id."""

    async def muted_page(self, user_id: int, after: int | None, limit: int) -> list[int]:
        """The users `user_id` mutes, by id."""

    async def follower_page(self, user_id: int, after: int | None, limit: int) -> list[int]: ...

    async def following_page(self, user_id: int, after: int | None, limit: int) -> list[int]: ...
