"""The tweet store's side of a batch of posts and deletes, planned as plain data.

A batch is folded into the rows each table must end with, as if its events had been applied
one at a time in order: a post after its tweet's deletion changes nothing (a redelivery), a
deletion without its post leaves a tombstone, a post and its deletion in one batch leave a
deleted row. Counts are not planned here: they follow from the gate rows really inserted or
deleted (`counted`, `replies` and `quotes`, see agents/core.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from projections.tweet_store import StoredTweet, TweetState
from schemas import events as ev


@dataclass(frozen=True)
class Posted:
    """A post that takes effect: stored, counted, cached and fanned out."""

    event: ev.TweetPosted


@dataclass(frozen=True)
class Deleted:
    """A deletion, with what the tweet replied to (also when it was deleted before)."""

    event: ev.TweetDeleted
    reply_to: int | None
    quote_of: int | None = None


@dataclass
class TweetPlan:
    new_rows: dict[int, StoredTweet] = field(default_factory=dict)  # not in the store before
    deletions: set[int] = field(default_factory=set)  # stored live tweets to mark deleted
    counted: set[tuple[int, int]] = field(default_factory=set)  # (tweet, author) posts to count
    uncounted: set[tuple[int, int]] = field(default_factory=set)  # (tweet, author) deletions
    replies: set[tuple[int, int]] = field(default_factory=set)  # (parent, reply) to add
    unreplies: set[tuple[int, int]] = field(default_factory=set)  # (parent, reply) to remove
    quotes: set[tuple[int, int]] = field(default_factory=set)  # (quoted, quote) to add
    unquotes: set[tuple[int, int]] = field(default_factory=set)  # (quoted, quote) to remove
    steps: list[Posted | Deleted] = field(default_factory=list)  # the effects, in log order


def tweet_ids(events: list[ev.Event]) -> set[int]:
    """The tweets whose stored state planning needs."""
    return {
        event.tweet_id for event in events if isinstance(event, ev.TweetPosted | ev.TweetDeleted)
    }


def plan_tweets(events: list[ev.Event], stored: dict[int, TweetState]) -> TweetPlan:
    """What `events` (in log order) do to the tweet store, given the stored state of their
    tweets. Every post that takes effect comes before any deletion of the same tweet, so the
    gate rows can be inserted before they are deleted."""
    plan = TweetPlan()
    state = dict(stored)
    for event in events:
        match event:
            case ev.TweetPosted():
                _post(plan, state, event)
            case ev.TweetDeleted():
                _delete(plan, state, event)
    return plan


def _post(plan: TweetPlan, state: dict[int, TweetState], event: ev.TweetPosted) -> None:
    known = state.get(event.tweet_id)
    if known is not None and known.deleted:
        return  # deleted already: a redelivered post must not bring it back
    if known is None:
        plan.new_rows[event.tweet_id] = StoredTweet(
            event.tweet_id,
            event.author_id,
            event.content,
            event.occurred_at,
            event.reply_to,
            quote_of=event.quote_of,
            mentioned_ids=event.mentioned_ids,
        )
        state[event.tweet_id] = TweetState(False, event.reply_to, event.quote_of)
    plan.counted.add((event.tweet_id, event.author_id))
    if event.reply_to is not None:
        plan.replies.add((event.reply_to, event.tweet_id))
    if event.quote_of is not None:
        plan.quotes.add((event.quote_of, event.tweet_id))
    plan.steps.append(Posted(event))


def _delete(plan: TweetPlan, state: dict[int, TweetState], event: ev.TweetDeleted) -> None:
    known = state.get(event.tweet_id)
    new = plan.new_rows.get(event.tweet_id)
    if known is None:
        # A deletion read from a partial log may come without its post: keep a tombstone,
        # so that the post, should it come later, cannot revive the tweet.
        plan.new_rows[event.tweet_id] = StoredTweet(
            event.tweet_id, event.author_id, "", event.occurred_at, None, deleted=True
        )
        known = TweetState(deleted=False, reply_to=None)
    elif new is not None:
        plan.new_rows[event.tweet_id] = replace(new, deleted=True)
    elif not known.deleted:
        plan.deletions.add(event.tweet_id)
    state[event.tweet_id] = TweetState(True, known.reply_to, known.quote_of)
    plan.uncounted.add((event.tweet_id, event.author_id))
    if known.reply_to is not None:
        plan.unreplies.add((known.reply_to, event.tweet_id))
    if known.quote_of is not None:
        plan.unquotes.add((known.quote_of, event.tweet_id))
    plan.steps.append(Deleted(event, known.reply_to, known.quote_of))
