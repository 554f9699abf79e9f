"""Live events: what the agents tell connected readers after applying a batch, as plain data.

One event per fact a home-timeline client acts on (docs/streaming.md):

- `tweet`: a post or a retweet entered its author's followers' home timelines (pushed or, for
  celebrities, pulled: the same event either way);
- `delete`: a tweet was deleted, or a retweet withdrawn (`retweeted_by` set);
- `counts`: a tweet's likes, retweets, replies or quotes moved (the new absolute counts);
- `notification`: a user got a notification;
- `follow` and `unfollow`: a reader's interests changed; `hide` and `unhide`: a block now
  stands (no longer stands) between the reader and a user; `mute` and `unmute`: the reader
  muted (unmuted) a user. Never sent to a client: the API's fan-out uses them to route and
  filter the reader's later events.

Each event names whom it concerns (`author_id`: the followers of that user; `tweet_id`; or
one `reader_id`), never a list of followers: the API decides per connection who gets it, so an
author with a million followers costs the agents one event (docs/streaming.md, "Scaling").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from projections.engagement_plan import EngagementPlan, Retweeted, Unretweeted
from projections.engagements import Counts
from projections.graph import EdgeChanges
from projections.graph_plan import GraphPlan
from projections.notification_plan import NotificationPlan
from projections.timeline_entries import Entry
from projections.tweet_plan import Posted, TweetPlan
from schemas import events as ev

TWEET, DELETE, COUNTS, NOTIFICATION = "tweet", "delete", "counts", "notification"
FOLLOW, UNFOLLOW = "follow", "unfollow"
HIDE, UNHIDE, MUTE, UNMUTE = "hide", "unhide", "mute", "unmute"
# The kinds that change what a reader's stream is sent (to `reader_id`, about `author_id`).
STEERING = (FOLLOW, UNFOLLOW, HIDE, UNHIDE, MUTE, UNMUTE)
# The kinds a client is sent; the others steer the fan-out only.
CLIENT_KINDS = (TWEET, DELETE, COUNTS, NOTIFICATION)


@dataclass(frozen=True)
class LiveEvent:
    """A fact for connected readers: `data` is what a client receives (ids as strings);
    `author_id`, `tweet_id` and `reader_id` say whom it concerns, and `subject_id` whom else
    a reader must be allowed to see for it to be sent (a retweet's author, a notification's
    actor)."""

    kind: str
    data: dict = field(hash=False)
    author_id: int | None = None
    tweet_id: int | None = None
    reader_id: int | None = None
    subject_id: int | None = None

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "kind": self.kind,
                "author": self.author_id,
                "tweet": self.tweet_id,
                "reader": self.reader_id,
                "subject": self.subject_id,
                "data": self.data,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> LiveEvent:
        fields = orjson.loads(raw)
        return cls(
            fields["kind"],
            fields["data"],
            fields["author"],
            fields["tweet"],
            fields["reader"],
            fields.get("subject"),  # written before 2026-12-03: none
        )

    @property
    def once_key(self) -> str | None:
        """What makes two events the same fact, for events a redelivered batch would repeat
        (None: counts, which carry absolute values, so a repeat is harmless)."""
        data = self.data
        match self.kind:
            case "tweet" | "delete":
                return f"{self.kind}:{data['tweet_id']}:{data.get('retweeted_by')}"
            case "notification":
                return f"{self.kind}:{self.reader_id}:{data['type']}:{data['latest_id']}"
            case "follow" | "unfollow":
                return f"{self.kind}:{self.reader_id}:{self.author_id}"
        return None


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def tweet_entered(author_id: int, entry: Entry, tweet_author_id: int | None = None) -> LiveEvent:
    """A post (or, with `entry.retweeted_by`, a retweet of `tweet_author_id`'s tweet)
    delivered to `author_id`'s followers: `author_id` is the poster or the retweeter."""
    return LiveEvent(
        TWEET,
        {
            "tweet_id": str(entry.tweet_id),
            "author_id": str(author_id) if entry.retweeted_by is None else None,
            "retweeted_by": _id(entry.retweeted_by),
        },
        author_id,
        entry.tweet_id,
        subject_id=tweet_author_id,
    )


def _safety_events(
    blocked: Mapping[tuple[int, int], bool], muted: Mapping[tuple[int, int], bool]
) -> list[LiveEvent]:
    """For each pair a batch's blocks name, whether a block stands between them after it
    (to each of the two); for each mute, whether it holds (to the muter)."""
    events = []
    for (low, high), holds in blocked.items():
        kind = HIDE if holds else UNHIDE
        events += [LiveEvent(kind, {}, high, None, low), LiveEvent(kind, {}, low, None, high)]
    for (muter, muted_id), holds in muted.items():
        events.append(LiveEvent(MUTE if holds else UNMUTE, {}, muted_id, None, muter))
    return events


def core_live_events(
    graph: GraphPlan,
    edges: EdgeChanges,
    tweets: TweetPlan,
    engagements: EngagementPlan,
    counts: dict[int, Counts],
    blocked: Mapping[tuple[int, int], bool] | None = None,
    muted: Mapping[tuple[int, int], bool] | None = None,
) -> list[LiveEvent]:
    """The live events of a core batch, in its order: follows, then blocks and mutes as
    they stand after it (`blocked`, `muted`: agents/core_redis.Planned's), then posts and
    deletions, then retweets and their withdrawals, then each changed tweet's counts once."""
    events: list[LiveEvent] = []
    for edge in graph.steps:
        if isinstance(edge, ev.UserFollowed) and (
            (edge.follower_id, edge.followee_id) not in edges.refused
        ):
            events.append(LiveEvent(FOLLOW, {}, edge.followee_id, None, edge.follower_id))
        elif isinstance(edge, ev.UserUnfollowed) and (
            (edge.follower_id, edge.followee_id) not in edges.kept
        ):
            events.append(LiveEvent(UNFOLLOW, {}, edge.followee_id, None, edge.follower_id))
        elif isinstance(edge, ev.UserBlocked):  # the follows it ended, both ways
            for reader, user in (
                (edge.blocker_id, edge.blocked_id),
                (edge.blocked_id, edge.blocker_id),
            ):
                if (reader, user) not in edges.kept:
                    events.append(LiveEvent(UNFOLLOW, {}, user, None, reader))
    events += _safety_events(blocked or {}, muted or {})
    # tweet -> its author, where the batch's events say (None: the events do not name it)
    changed: dict[int, int | None] = {}
    for step in tweets.steps:
        if isinstance(step, Posted):
            posted = step.event
            events.append(tweet_entered(posted.author_id, Entry(posted.tweet_id, posted.tweet_id)))
            for linked, author in (
                (posted.reply_to, posted.reply_to_author_id),
                (posted.quote_of, posted.quote_of_author_id),
            ):
                if linked is not None:
                    changed.setdefault(linked, author)
        else:
            deleted = step.event
            events.append(
                LiveEvent(
                    DELETE,
                    {"tweet_id": str(deleted.tweet_id), "author_id": str(deleted.author_id)},
                    deleted.author_id,
                    deleted.tweet_id,
                )
            )
            for linked in (step.reply_to, step.quote_of):
                if linked is not None:
                    changed.setdefault(linked, None)
    for engaged in engagements.steps:
        event = engaged.event
        if isinstance(engaged, Retweeted):
            entry = Entry(engaged.sort_key, event.tweet_id, event.user_id)
            events.append(tweet_entered(event.user_id, entry, event.author_id))
        elif isinstance(engaged, Unretweeted) and engaged.sort_key is not None:
            events.append(
                LiveEvent(
                    DELETE,
                    {
                        "tweet_id": str(event.tweet_id),
                        "author_id": None,
                        "retweeted_by": str(event.user_id),
                    },
                    event.user_id,
                    event.tweet_id,
                )
            )
        if changed.get(event.tweet_id) is None:
            changed[event.tweet_id] = event.author_id
    for tweet_id, author in changed.items():
        tweet_counts = counts.get(tweet_id, Counts())
        events.append(
            LiveEvent(
                COUNTS,
                {
                    "tweet_id": str(tweet_id),
                    "likes": tweet_counts.likes,
                    "retweets": tweet_counts.retweets,
                    "replies": tweet_counts.replies,
                    "quotes": tweet_counts.quotes,
                },
                author,
                tweet_id,
            )
        )
    return events


def notification_live_events(plan: NotificationPlan) -> list[LiveEvent]:
    """A `notification` event for each action a notifications batch records, to its
    recipient: the notification's id as `GET /notifications` shows it, and its newest action."""
    return [
        LiveEvent(
            NOTIFICATION,
            {
                "notification_id": f"{action.kind}:{action.target_id}:{action.span}",
                "type": str(action.kind),
                "latest_id": str(action.event_id),
                "actor_id": str(action.actor_id),
            },
            reader_id=action.recipient_id,
            subject_id=action.actor_id,
        )
        for action in plan.adds
        if action.target_id not in plan.deleted_tweets
    ]
