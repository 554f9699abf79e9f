"""The topic registry: which topic carries which event, keyed by what, with how many partitions."""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings
from schemas import events as ev


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # what the message key is, for readers of this registry
    partitions: int
    replication_factor: int = 1
    # Topic-level configuration set at creation, e.g. {"min.insync.replicas": "2"}.
    configs: tuple[tuple[str, str], ...] = ()


# One partition of a topic, (topic, partition): where an offset or a position belongs. A plain
# tuple, so that the positions of a consumer's (topic, partition) pairs index it as they are.
Partition = tuple[str, int]


# Events whose relative order matters share a key, and so a partition: a user's profile
# events; an author's posts and deletes; a follower's follows and unfollows; a tweet's
# likes and retweets. A block or mute goes with its maker's follows: the graph orders a block
# and a follow of another partition by their event ids (projections/postgres_graph.py).
_KEY_OF = {
    ev.UserRegistered: ("users", lambda e: e.user_id),
    ev.ProfileUpdated: ("users", lambda e: e.user_id),
    ev.NotificationsRead: ("users", lambda e: e.user_id),
    ev.UserDeleted: ("users", lambda e: e.user_id),
    ev.TweetPosted: ("tweets", lambda e: e.author_id),
    ev.TweetDeleted: ("tweets", lambda e: e.author_id),
    # An owner's media events precede, in the same partition, the posts that attach them.
    ev.MediaUploaded: ("tweets", lambda e: e.owner_id),
    ev.MediaProcessed: ("tweets", lambda e: e.owner_id),
    ev.MediaDescribed: ("tweets", lambda e: e.owner_id),
    ev.MediaDeleted: ("tweets", lambda e: e.owner_id),
    ev.UserFollowed: ("follows", lambda e: e.follower_id),
    ev.UserUnfollowed: ("follows", lambda e: e.follower_id),
    ev.FollowRequested: ("follows", lambda e: e.follower_id),
    ev.FollowRequestDeclined: ("follows", lambda e: e.follower_id),
    ev.UserBlocked: ("follows", lambda e: e.blocker_id),
    ev.UserUnblocked: ("follows", lambda e: e.blocker_id),
    ev.UserMuted: ("follows", lambda e: e.muter_id),
    ev.UserUnmuted: ("follows", lambda e: e.muter_id),
    ev.TweetLiked: ("engagements", lambda e: e.tweet_id),
    ev.TweetUnliked: ("engagements", lambda e: e.tweet_id),
    ev.TweetRetweeted: ("engagements", lambda e: e.tweet_id),
    ev.TweetUnretweeted: ("engagements", lambda e: e.tweet_id),
}


class TopicRegistry:
    """Topic names under a configurable prefix, and the route of every event type."""

    def __init__(
        self,
        prefix: str = "",
        partitions: int = 4,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
    ) -> None:
        self.prefix = prefix
        configs = (
            (("min.insync.replicas", str(min_insync_replicas)),) if min_insync_replicas else ()
        )

        def topic(name: str, key: str, count: int = partitions) -> Topic:
            return Topic(f"{prefix}{name}", key, count, replication_factor, configs)

        self.users = topic("users", "user id")
        self.tweets = topic("tweets", "author id")
        self.follows = topic("follows", "follower id")
        self.engagements = topic("engagements", "tweet id")
        # Written by the Flink job; one partition keeps each window's rows in order.
        self.trending = topic("trending-topics", "hashtag", 1)
        self.dead_letters = topic("dead-letters", "source topic", 1)

    def all(self) -> list[Topic]:
        return [
            self.users,
            self.tweets,
            self.follows,
            self.engagements,
            self.trending,
            self.dead_letters,
        ]

    def event_topics(self) -> list[Topic]:
        return [self.users, self.tweets, self.follows, self.engagements]

    def route(self, event: ev.Event) -> tuple[str, bytes]:
        """The topic name and message key for `event`."""
        topic_attr, key_of = _KEY_OF[type(event)]
        return getattr(self, topic_attr).name, str(key_of(event)).encode()


def topic_registry(settings: Settings) -> TopicRegistry:
    """The topics of the deployment `settings` describe."""
    return TopicRegistry(
        settings.topic_prefix,
        settings.partitions,
        settings.topic_replication_factor,
        settings.topic_min_insync_replicas,
    )
