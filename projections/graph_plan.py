"""The social graph's side of a batch of registrations, profile edits, follows, unfollows,
blocks and mutes.

Users are planned from which of them the store holds already: a registration inserts a user
once, and a profile edit changes a user that exists by then (one that comes before its
registration changes nothing, as it would one at a time). Follows fold to their last word per
(follower, followee), blocks and mutes per pair likewise; the counts follow from the edges
really inserted or deleted. A block and a follow of one pair come from different partitions
(the blocker's, the follower's): the store orders them by their event ids, which the write
model keeps in the order it decided them (projections/postgres_graph.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from schemas import events as ev

T = TypeVar("T")


@dataclass(frozen=True)
class NewUser:
    user_id: int
    username: str
    display_name: str
    bio: str
    created_at: datetime
    location: str = ""
    website: str = ""
    protected: bool = False


@dataclass(frozen=True)
class ProfileChange:
    display_name: str | None = None  # None: unchanged
    bio: str | None = None
    location: str | None = None
    website: str | None = None
    protected: bool | None = None


@dataclass(frozen=True)
class PairChange:
    """A block's or mute's last word in a batch: its event, whether it holds at the end, and
    (blocks) the batch's last UserBlocked, which ends the pair's follows made before it (0:
    none in the batch)."""

    event_id: int
    active: bool
    blocked_at: int = 0


@dataclass
class GraphPlan:
    new_users: dict[int, NewUser] = field(default_factory=dict)
    profile_changes: dict[int, ProfileChange] = field(default_factory=dict)  # of stored users
    # Edges there at the end -> the event of their last follow.
    follows: dict[tuple[int, int], int] = field(default_factory=dict)
    unfollows: set[tuple[int, int]] = field(default_factory=set)  # edges gone at the end
    # Edges unfollowed in the batch -> the latest unfollow's event: it ends the follows made
    # before it and withdraws the requests made before it, whatever order they arrive in.
    unfollowed_at: dict[tuple[int, int], int] = field(default_factory=dict)
    blocks: dict[tuple[int, int], PairChange] = field(default_factory=dict)  # (blocker, blocked)
    mutes: dict[tuple[int, int], PairChange] = field(default_factory=dict)  # (muter, muted)
    # (follower, followee) follow requests made or declined; a follow, or a block of the
    # pair, closes one too (the store does that from `follows` and `blocks`).
    requests: dict[tuple[int, int], PairChange] = field(default_factory=dict)
    steps: list[ev.Event] = field(default_factory=list)  # each event's caches, in log order


def edited_users(plan: GraphPlan) -> set[int]:
    """The users whose profile `plan` registers or edits: their cached summaries are written
    again, as the store holds them after the batch."""
    return {
        event.user_id
        for event in plan.steps
        if isinstance(event, ev.ProfileUpdated | ev.UserRegistered)
    }


def user_ids(events: list[ev.Event]) -> set[int]:
    """The users whose presence in the store planning needs."""
    return {
        event.user_id
        for event in events
        if isinstance(event, ev.UserRegistered | ev.ProfileUpdated)
    }


def plan_graph(events: list[ev.Event], stored_users: set[int]) -> GraphPlan:
    """What `events` (in log order) do to users and follows, given which users are stored."""
    plan = GraphPlan()
    for event in events:
        match event:
            case ev.UserRegistered() if (
                event.user_id not in stored_users and event.user_id not in plan.new_users
            ):
                plan.new_users[event.user_id] = NewUser(
                    event.user_id, event.username, event.display_name, event.bio, event.occurred_at
                )
            case ev.ProfileUpdated():
                _edit(plan, stored_users, event)
            case ev.UserFollowed():
                edge = (event.follower_id, event.followee_id)
                plan.unfollows.discard(edge)
                # The latest follow's event, as the store keeps (a redelivery may come last).
                plan.follows[edge] = max(plan.follows.get(edge, 0), event.event_id)
            case ev.UserUnfollowed():
                edge = (event.follower_id, event.followee_id)
                plan.follows.pop(edge, None)
                plan.unfollows.add(edge)
                plan.unfollowed_at[edge] = max(plan.unfollowed_at.get(edge, 0), event.event_id)
            case ev.UserBlocked() | ev.UserUnblocked():
                _pair_word(
                    plan.blocks,
                    (event.blocker_id, event.blocked_id),
                    event.event_id,
                    isinstance(event, ev.UserBlocked),
                    blocks=True,
                )
            case ev.FollowRequested() | ev.FollowRequestDeclined():
                _pair_word(
                    plan.requests,
                    (event.follower_id, event.followee_id),
                    event.event_id,
                    isinstance(event, ev.FollowRequested),
                )
            case ev.UserMuted() | ev.UserUnmuted():
                _pair_word(
                    plan.mutes,
                    (event.muter_id, event.muted_id),
                    event.event_id,
                    isinstance(event, ev.UserMuted),
                )
        plan.steps.append(event)
    return plan


def _pair_word(
    changes: dict[tuple[int, int], PairChange],
    edge: tuple[int, int],
    event_id: int,
    active: bool,
    blocks: bool = False,
) -> None:
    """Fold a block or mute (or its lifting) into the pair's change as the store does: the
    latest event's word wins (a redelivery may come last), and a block's `blocked_at` only
    grows."""
    before = changes.get(edge, PairChange(0, False))
    latest = event_id > before.event_id
    changes[edge] = PairChange(
        max(event_id, before.event_id),
        active if latest else before.active,
        max(before.blocked_at, event_id if blocks and active else 0),
    )


def _edit(plan: GraphPlan, stored_users: set[int], event: ev.ProfileUpdated) -> None:
    new = plan.new_users.get(event.user_id)
    if new is not None:
        plan.new_users[event.user_id] = replace(
            new, **{name: _new_or(getattr(event, name), getattr(new, name)) for name in _EDITABLE}
        )
    elif event.user_id in stored_users:
        change = plan.profile_changes.get(event.user_id, ProfileChange())
        plan.profile_changes[event.user_id] = ProfileChange(
            **{name: _new_or(getattr(event, name), getattr(change, name)) for name in _EDITABLE}
        )


# The profile fields a ProfileUpdated may change.
_EDITABLE = ("display_name", "bio", "location", "website", "protected")


def _new_or(value: T | None, current: T) -> T:
    return current if value is None else value
