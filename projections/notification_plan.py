"""Which notifications a batch of events makes and takes away: plain data, no I/O.

A notification is made of **actions**: one user (the actor) did something that concerns
another (the recipient) about a target (the tweet; for a follow or a follow request, the
followed user). Likes,
retweets and follows of one target group together per time span: "ada and 5 others liked
your tweet" is one group of six actions. A mention, reply or quote is a group of its own,
whose target is the new tweet.

Every event names whom it reaches (schemas/events.py: `mentioned_ids`, `reply_to_author_id`,
`quote_of_author_id`, the liked tweet's `author_id`, the followee), resolved when it was
written, so the plan needs no other read model, and a replay plans what the live agent did.
Nobody is notified of their own actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from schemas import events as ev


class Kind(StrEnum):
    MENTION = "mention"
    REPLY = "reply"
    QUOTE = "quote"
    LIKE = "like"
    RETWEET = "retweet"
    FOLLOW = "follow"
    FOLLOW_REQUEST = "follow_request"  # to a protected account, until it is answered


KINDS = tuple(Kind)
# Kinds whose target is the recipient (a user), not a tweet.
USER_KINDS = (Kind.FOLLOW, Kind.FOLLOW_REQUEST)
# Kinds whose target is the tweet that notifies: a group of one.
TWEET_KINDS = (Kind.REPLY, Kind.QUOTE, Kind.MENTION)
# The mentions timeline: the tweets that name, answer or quote the reader.
MENTIONS_TIMELINE_KINDS = (Kind.MENTION, Kind.REPLY, Kind.QUOTE)


@dataclass(frozen=True)
class Action:
    recipient_id: int
    kind: Kind
    target_id: int
    actor_id: int
    span: int  # the time span it groups in (0 for a group of one)
    event_id: int  # the event that made it: its place among the recipient's notifications

    @property
    def key(self) -> tuple[int, Kind, int]:
        """What an undo names: (target, kind, actor). A like, retweet or follow reaches one
        recipient only, so this is one action; a tweet's mentions reach several."""
        return (self.target_id, self.kind, self.actor_id)


@dataclass
class NotificationPlan:
    """A batch's effect on the notifications: applied in this order, it leaves what the
    events applied one at a time would (`plan_notifications`)."""

    deleted_tweets: set[int] = field(default_factory=set)
    # Actions taken out first: undone ones, and ones made again after an undo in the batch.
    removals: list[tuple[int, Kind, int]] = field(default_factory=list)
    # Then these are recorded, unless their target tweet is deleted or they are there already.
    adds: list[Action] = field(default_factory=list)
    # The furthest each user has marked read.
    reads: dict[int, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.deleted_tweets or self.removals or self.adds or self.reads)


def tweet_actions(event: ev.TweetPosted) -> list[Action]:
    """Whom a tweet notifies, once each: the replied-to author (reply), the quoted author
    (quote), then the mentioned users (mention)."""
    actions: list[Action] = []
    reached = {event.author_id}
    for kind, recipients in (
        (Kind.REPLY, [event.reply_to_author_id]),
        (Kind.QUOTE, [event.quote_of_author_id]),
        (Kind.MENTION, list(event.mentioned_ids)),
    ):
        for recipient in recipients:
            if recipient is None or recipient in reached:
                continue
            reached.add(recipient)
            actions.append(
                Action(recipient, kind, event.tweet_id, event.author_id, 0, event.event_id)
            )
    return actions


def plan_notifications(events: list[ev.Event], group_seconds: int) -> NotificationPlan:
    """The plan of `events` (each key's events in log order, as the topics keep them)."""
    plan = NotificationPlan()
    # Per action (key and recipient): the add that stands at the end of the batch (the first
    # of a run of adds: a second follow changes nothing); the keys undone in the batch.
    pending: dict[tuple[tuple[int, Kind, int], int], Action | None] = {}
    recipients: dict[tuple[int, Kind, int], set[int]] = {}
    undone: set[tuple[int, Kind, int]] = set()

    def add(action: Action) -> None:
        if action.actor_id == action.recipient_id:
            return
        if pending.get((action.key, action.recipient_id)) is None:
            pending[(action.key, action.recipient_id)] = action
            recipients.setdefault(action.key, set()).add(action.recipient_id)

    def undo(key: tuple[int, Kind, int]) -> None:
        undone.add(key)
        for recipient in recipients.pop(key, ()):
            pending[(key, recipient)] = None

    for event in events:
        span = int(event.occurred_at.timestamp()) // group_seconds
        match event:
            case ev.TweetPosted():
                for action in tweet_actions(event):
                    add(action)
            case ev.TweetDeleted(tweet_id=tweet_id):
                plan.deleted_tweets.add(tweet_id)
            case ev.TweetLiked(author_id=int(author)) | ev.TweetRetweeted(author_id=author):
                kind = Kind.LIKE if isinstance(event, ev.TweetLiked) else Kind.RETWEET
                add(Action(author, kind, event.tweet_id, event.user_id, span, event.event_id))
            case ev.TweetUnliked() | ev.TweetUnretweeted():
                kind = Kind.LIKE if isinstance(event, ev.TweetUnliked) else Kind.RETWEET
                undo((event.tweet_id, kind, event.user_id))
            case ev.FollowRequested(follower_id=follower, followee_id=followee):
                add(Action(followee, Kind.FOLLOW_REQUEST, followee, follower, span, event.event_id))
            case ev.FollowRequestDeclined(follower_id=follower, followee_id=followee):
                undo((followee, Kind.FOLLOW_REQUEST, follower))
            case ev.UserFollowed(follower_id=follower, followee_id=followee):
                # An approved request is answered: the follow notifies instead.
                undo((followee, Kind.FOLLOW_REQUEST, follower))
                add(Action(followee, Kind.FOLLOW, followee, follower, span, event.event_id))
            case ev.UserUnfollowed(follower_id=follower, followee_id=followee):
                undo((followee, Kind.FOLLOW, follower))
                undo((followee, Kind.FOLLOW_REQUEST, follower))  # a request withdrawn
            case ev.NotificationsRead(user_id=user_id, up_to=up_to):
                plan.reads[user_id] = max(up_to, plan.reads.get(user_id, 0))
    plan.removals = sorted(undone)
    plan.adds = [action for action in pending.values() if action is not None]
    return plan
