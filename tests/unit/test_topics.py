from datetime import UTC, datetime

from schemas import events as ev
from streams.topics import _KEY_OF, TopicRegistry

NOW = datetime.now(UTC)


def test_events_whose_order_matters_share_a_topic_and_key():
    registry = TopicRegistry(prefix="p.", partitions=4)
    post = ev.TweetPosted(
        event_id=1, occurred_at=NOW, actor_id=5, tweet_id=9, author_id=5, content="x"
    )
    delete = ev.TweetDeleted(event_id=2, occurred_at=NOW, actor_id=5, tweet_id=9, author_id=5)
    follow = ev.UserFollowed(event_id=3, occurred_at=NOW, actor_id=5, follower_id=5, followee_id=6)
    unfollow = ev.UserUnfollowed(
        event_id=4, occurred_at=NOW, actor_id=5, follower_id=5, followee_id=6
    )
    like = ev.TweetLiked(event_id=5, occurred_at=NOW, actor_id=8, tweet_id=9, user_id=8)
    retweet = ev.TweetRetweeted(
        event_id=6, occurred_at=NOW, actor_id=7, tweet_id=9, user_id=7, author_id=5
    )
    assert registry.route(post) == registry.route(delete) == ("p.tweets", b"5")
    assert registry.route(follow) == registry.route(unfollow) == ("p.follows", b"5")
    assert registry.route(like) == registry.route(retweet) == ("p.engagements", b"9")


def test_every_event_type_has_a_route():
    registry = TopicRegistry()
    names = {topic.name for topic in registry.all()}
    assert names == {"users", "tweets", "follows", "engagements", "trending-topics", "dead-letters"}
    # Every event type is routed (an unrouted one would be kept in the outbox, never sent).
    assert set(ev.EVENT_TYPES.values()) == set(_KEY_OF)
