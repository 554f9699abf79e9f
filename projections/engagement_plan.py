"""The engagement tables' side of a batch of likes and retweets, planned as plain data.

Likes fold to their last word per (tweet, user): a batch that unliked deletes the row first,
and one whose last word is a like inserts it (with the time of the first like after the last
unlike, as one-at-a-time application would leave it). Retweets keep a row after an unretweet
(its sort key still names the timeline entries to withdraw), so they are planned from the
stored rows: each retweet and unretweet learns the sort key of its entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from projections.engagements import RetweetRow
from schemas import events as ev


@dataclass(frozen=True)
class Liked:
    event: ev.TweetLiked | ev.TweetUnliked


@dataclass(frozen=True)
class Retweeted:
    event: ev.TweetRetweeted
    sort_key: int  # of the retweet's timeline entries: the first retweet's, on redelivery


@dataclass(frozen=True)
class Unretweeted:
    event: ev.TweetUnretweeted
    sort_key: int | None  # None: never retweeted, nothing to withdraw


@dataclass
class EngagementPlan:
    unlikes: set[tuple[int, int]] = field(default_factory=set)  # (tweet, user) rows to delete
    likes: dict[tuple[int, int], datetime] = field(default_factory=dict)  # then rows to insert
    retweets: dict[tuple[int, int], RetweetRow] = field(default_factory=dict)  # rows changed
    retweet_deltas: dict[int, int] = field(default_factory=dict)  # tweet -> retweet count move
    steps: list[Liked | Retweeted | Unretweeted] = field(default_factory=list)


def retweet_keys(events: list[ev.Event]) -> set[tuple[int, int]]:
    """The (tweet, user) retweet rows whose stored state planning needs."""
    return {
        (event.tweet_id, event.user_id)
        for event in events
        if isinstance(event, ev.TweetRetweeted | ev.TweetUnretweeted)
    }


def plan_engagements(
    events: list[ev.Event], stored: dict[tuple[int, int], RetweetRow]
) -> EngagementPlan:
    """What `events` (in log order) do to likes and retweets, given the stored retweet rows."""
    plan = EngagementPlan()
    rows = dict(stored)
    for event in events:
        match event:
            case ev.TweetLiked():
                plan.likes.setdefault((event.tweet_id, event.user_id), event.occurred_at)
                plan.steps.append(Liked(event))
            case ev.TweetUnliked():
                plan.unlikes.add((event.tweet_id, event.user_id))
                plan.likes.pop((event.tweet_id, event.user_id), None)
                plan.steps.append(Liked(event))
            case ev.TweetRetweeted():
                plan.steps.append(Retweeted(event, _retweet(plan, rows, event)))
            case ev.TweetUnretweeted():
                plan.steps.append(Unretweeted(event, _unretweet(plan, rows, event)))
    return plan


def _retweet(
    plan: EngagementPlan, rows: dict[tuple[int, int], RetweetRow], event: ev.TweetRetweeted
) -> int:
    key = (event.tweet_id, event.user_id)
    row = rows.get(key)
    if row is not None and row.active:
        return row.sort_key  # retweeted already: the first retweet keeps its place in time
    rows[key] = plan.retweets[key] = RetweetRow(event.event_id, active=True)
    plan.retweet_deltas[event.tweet_id] = plan.retweet_deltas.get(event.tweet_id, 0) + 1
    return event.event_id


def _unretweet(
    plan: EngagementPlan, rows: dict[tuple[int, int], RetweetRow], event: ev.TweetUnretweeted
) -> int | None:
    key = (event.tweet_id, event.user_id)
    row = rows.get(key)
    if row is None:
        return None
    if row.active:
        rows[key] = plan.retweets[key] = RetweetRow(row.sort_key, active=False)
        plan.retweet_deltas[event.tweet_id] = plan.retweet_deltas.get(event.tweet_id, 0) - 1
    return row.sort_key
