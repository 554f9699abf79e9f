"""Live events: what a core or notifications batch tells connected readers, and how one API
process routes them to its streams (in memory, no servers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from api.streaming import Interests, LiveHub
from projections import engagement_plan, graph_plan, tweet_plan
from projections.engagements import Counts
from projections.graph import EdgeChanges
from projections.live_events import LiveEvent, core_live_events, notification_live_events
from projections.notification_plan import plan_notifications
from schemas import events as ev

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _event(cls, n: int, **fields):
    return cls(event_id=n, occurred_at=NOW, actor_id=1, **fields)


def test_a_core_batch_tells_follows_posts_retweets_deletions_and_counts_in_order():
    follow = _event(ev.UserFollowed, 1, follower_id=7, followee_id=3)
    posted = _event(ev.TweetPosted, 2, tweet_id=100, author_id=3, content="hi")
    reply = _event(
        ev.TweetPosted, 3, tweet_id=101, author_id=4, content="re", reply_to=100,
        reply_to_author_id=3,
    )  # fmt: skip
    deleted = _event(ev.TweetDeleted, 4, tweet_id=90, author_id=3)
    liked = _event(ev.TweetLiked, 5, tweet_id=100, user_id=4, author_id=3)
    retweeted = _event(ev.TweetRetweeted, 6, tweet_id=100, user_id=5, author_id=3)
    graph = graph_plan.plan_graph([follow], set())
    tweets = tweet_plan.plan_tweets([posted, reply, deleted], {})
    engagements = engagement_plan.plan_engagements([liked, retweeted], {})
    told = core_live_events(
        graph, EdgeChanges([], [], set()), tweets, engagements, {100: Counts(1, 1, 1)}
    )
    assert [(e.kind, e.author_id) for e in told] == [
        ("follow", 3),
        ("tweet", 3),
        ("tweet", 4),
        ("delete", 3),
        ("tweet", 5),
        ("counts", 3),
    ]
    assert told[0].reader_id == 7
    assert told[4].data == {"tweet_id": "100", "author_id": None, "retweeted_by": "5"}
    assert told[-1].data == {
        "tweet_id": "100",
        "likes": 1,
        "retweets": 1,
        "replies": 1,
        "quotes": 0,
    }


def test_notifications_go_to_their_recipients_and_not_for_deleted_tweets():
    mention = _event(ev.TweetPosted, 1, tweet_id=100, author_id=3, content="@a", mentioned_ids=(8,))
    follow = _event(ev.UserFollowed, 2, follower_id=3, followee_id=9)
    told = notification_live_events(plan_notifications([mention, follow], 86_400))
    assert [(e.reader_id, e.data["type"]) for e in told] == [(8, "mention"), (9, "follow")]
    gone = _event(ev.TweetDeleted, 3, tweet_id=100, author_id=3)
    told = notification_live_events(plan_notifications([mention, gone], 86_400))
    assert told == []


def test_an_event_survives_its_encoding():
    event = LiveEvent("tweet", {"tweet_id": "1"}, 2, 1, None)
    assert LiveEvent.decode(event.encode()) == event


class MemoryLiveEvents:
    """The stream port in memory: entries with increasing ids."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, LiveEvent]] = []

    def append(self, event: LiveEvent) -> str:
        entry_id = f"{len(self.entries) + 1}-0"
        self.entries.append((entry_id, event))
        return entry_id

    async def newest(self) -> str:
        return self.entries[-1][0] if self.entries else "0-0"

    async def covers(self, after: str) -> bool:
        return int(after.split("-")[0]) <= len(self.entries)

    async def since(self, after: str, count: int):
        return self.entries[int(after.split("-")[0]) :][:count]


def _post(author: int, tweet: int) -> LiveEvent:
    return LiveEvent("tweet", {"tweet_id": str(tweet)}, author, tweet)


def _notification(reader: int, latest: int, actor: int) -> LiveEvent:
    data = {"type": "like", "latest_id": str(latest), "actor_id": str(actor)}
    return LiveEvent("notification", data, reader_id=reader, subject_id=actor)


def _route(hub: LiveHub, events: MemoryLiveEvents, event: LiveEvent) -> None:
    hub._route(events.append(event), event)


async def _sent(messages, count: int) -> list[bytes]:
    return [await anext(messages) for _ in range(count)]


def test_streams_get_their_followees_posts_and_follows_move_them():
    async def scenario():
        events = MemoryLiveEvents()
        hub = LiveHub(events, buffer=10, heartbeat_seconds=60)

        async def following() -> Interests:
            return Interests({3})

        session = await hub.connect(7, following, None)
        messages = session.messages(None)
        _route(hub, events, _post(3, 100))
        _route(hub, events, _post(4, 101))  # not followed
        _route(hub, events, LiveEvent("follow", {}, 4, None, 7))
        _route(hub, events, _post(4, 102))
        ready, first, second = await _sent(messages, 3)
        assert b"event: ready" in ready
        assert b'"100"' in first and b'"102"' in second
        # Told of tweet 100: its counts follow it, author named or not.
        _route(hub, events, LiveEvent("counts", {"tweet_id": "100"}, None, 100))
        assert b"event: counts" in (await _sent(messages, 1))[0]
        session.close()

    asyncio.run(scenario())


def test_a_client_too_far_behind_is_dropped_and_its_queue_freed():
    async def scenario():
        events = MemoryLiveEvents()
        hub = LiveHub(events, buffer=3, heartbeat_seconds=60)

        async def following() -> Interests:
            return Interests(set())

        session = await hub.connect(7, following, None)
        for n in range(5):
            _route(hub, events, _post(7, n))
        assert session.connection.dropped and session.connection.queue.qsize() == 1
        sent = await _sent(session.messages(None), 2)
        assert b"event: dropped" in sent[1]
        assert hub._by_author == {} and hub._by_reader == {}

    asyncio.run(scenario())


def test_a_resume_sends_what_was_missed_once_then_the_live_events():
    async def scenario():
        events = MemoryLiveEvents()
        hub = LiveHub(events, buffer=10, heartbeat_seconds=60)
        seen = events.append(_post(7, 1))
        missed = [events.append(_post(7, n)) for n in (2, 3)]

        async def following() -> Interests:
            return Interests(set())

        session = await hub.connect(7, following, seen)
        # Read by the hub after the stream registered: routed live too, sent once.
        hub._route(missed[1], events.entries[2][1])
        _route(hub, events, _post(7, 4))
        messages = session.messages(seen)
        sent = [await anext(messages) for _ in range(4)]
        assert b"resumed" in sent[0]
        assert [m.split(b"\n")[0] for m in sent[1:]] == [b"id: 2-0", b"id: 3-0", b"id: 4-0"]
        queued = session.connection.queue
        assert queued.qsize() == 2
        assert [hub.render(session.connection, *queued.get_nowait()) for _ in range(2)] == [
            None,
            None,
        ]
        session.close()

    asyncio.run(scenario())


def test_a_refused_follow_tells_nothing_and_a_block_unfollows_both_ways():
    follow = _event(ev.UserFollowed, 1, follower_id=7, followee_id=3)
    block = _event(ev.UserBlocked, 2, blocker_id=3, blocked_id=7)
    graph = graph_plan.plan_graph([follow, block], set())
    told = core_live_events(
        graph,
        EdgeChanges([], [], {(7, 3)}),
        tweet_plan.plan_tweets([], {}),
        engagement_plan.plan_engagements([], {}),
        {},
    )
    assert [(e.kind, e.author_id, e.reader_id) for e in told] == [
        ("unfollow", 7, 3),
        ("unfollow", 3, 7),
    ]


def test_a_batch_tells_each_side_of_a_block_and_the_muter_how_they_stand_after_it():
    told = core_live_events(
        graph_plan.plan_graph([], set()),
        EdgeChanges([], [], set()),
        tweet_plan.plan_tweets([], {}),
        engagement_plan.plan_engagements([], {}),
        {},
        blocked={(3, 7): True, (4, 9): False},
        muted={(7, 5): True, (7, 6): False},
    )
    assert [(e.kind, e.reader_id, e.author_id) for e in told] == [
        ("hide", 3, 7),
        ("hide", 7, 3),
        ("unhide", 4, 9),
        ("unhide", 9, 4),
        ("mute", 7, 5),
        ("unmute", 7, 6),
    ]


def test_a_retweet_names_the_tweets_author_and_a_notification_its_actor():
    retweeted = _event(ev.TweetRetweeted, 1, tweet_id=100, user_id=5, author_id=3)
    told = core_live_events(
        graph_plan.plan_graph([], set()),
        EdgeChanges([], [], set()),
        tweet_plan.plan_tweets([], {}),
        engagement_plan.plan_engagements([retweeted], {}),
        {},
    )
    assert (told[0].kind, told[0].author_id, told[0].subject_id) == ("tweet", 5, 3)
    assert LiveEvent.decode(told[0].encode()) == told[0]
    follow = _event(ev.UserFollowed, 2, follower_id=3, followee_id=9)
    (notified,) = notification_live_events(plan_notifications([follow], 86_400))
    assert (notified.reader_id, notified.subject_id) == (9, 3)


def test_a_stream_leaves_out_whom_its_reader_blocks_is_blocked_by_or_mutes():
    async def scenario():
        events = MemoryLiveEvents()
        hub = LiveHub(events, buffer=20, heartbeat_seconds=60)

        async def interests() -> Interests:
            # Follows 3, 4 and 5; a block stands between them and 6; mutes 5.
            return Interests({3, 4, 5}, hidden={6}, muted={5})

        session = await hub.connect(7, interests, None)
        messages = session.messages(None)
        retweet = LiveEvent("tweet", {"tweet_id": "200"}, 4, 200, None, subject_id=6)
        for event in (
            _post(5, 100),  # muted
            retweet,  # a followed user's retweet of a hidden user's tweet
            _notification(7, 1, actor=5),  # muted actor
            _post(3, 101),
            LiveEvent("unmute", {}, 5, None, 7),
            LiveEvent("hide", {}, 3, None, 7),
            _post(5, 102),
            _post(3, 103),  # now hidden
            _notification(7, 2, actor=5),
        ):
            _route(hub, events, event)
        sent = await _sent(messages, 4)
        kinds = [b"ready", b"tweet", b"tweet", b"notification"]
        assert all(b"event: " + kind + b"\n" in m for kind, m in zip(kinds, sent, strict=True))
        assert b'"101"' in sent[1] and b'"102"' in sent[2] and b'"latest_id":"2"' in sent[3]
        assert session.connection.queue.empty()
        session.close()

    asyncio.run(scenario())


def test_a_resume_leaves_out_the_same_events():
    async def scenario():
        events = MemoryLiveEvents()
        hub = LiveHub(events, buffer=20, heartbeat_seconds=60)
        seen = events.append(_post(7, 1))
        events.append(_post(5, 2))  # muted
        events.append(_notification(7, 1, actor=6))  # hidden
        events.append(_post(3, 3))

        async def interests() -> Interests:
            return Interests({3, 5}, hidden={6}, muted={5})

        session = await hub.connect(7, interests, seen)
        messages = session.messages(seen)
        resumed, missed = await _sent(messages, 2)
        assert b"resumed" in resumed and b'"3"' in missed
        session.close()

    asyncio.run(scenario())
