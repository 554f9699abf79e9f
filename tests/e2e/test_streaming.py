"""Live updates (`GET /api/v1/streaming/home`) through the API, fed by the real agents."""

from __future__ import annotations

import asyncio
import queue
import socket
import time

import httpx
import pytest

from infra.redis_clients import sync_redis
from projections.live_events import LiveEvent, tweet_entered
from projections.read_models import redis_client
from projections.redis_live import FIELD, RedisLiveEvents
from projections.timeline_entries import Entry
from tests.conftest import CELEBRITY_THRESHOLD
from tests.support.clients import eventually, follow, home_ids, post, register
from tests.support.streams import STREAM_PATH, EventStream, parse_events


def _like(client, user, tweet_id: str) -> None:
    assert client.post(f"/api/v1/tweets/{tweet_id}/like", headers=user.auth).status_code == 200


def test_a_follower_is_told_of_posts_retweets_counts_deletions_and_notifications(client, api_url):
    author, reader, other = register(client, "sa"), register(client, "sr"), register(client, "so")
    follow(client, reader, author)
    with EventStream(api_url, reader.token) as stream:
        assert stream.next().kind == "ready"
        posted = post(client, author, "live to my followers")
        told = stream.next("tweet")
        assert told.data == {"tweet_id": posted, "author_id": author.user_id, "retweeted_by": None}
        assert told.id

        theirs = post(client, other, "someone the reader does not follow")
        assert client.post(f"/api/v1/tweets/{theirs}/retweet", headers=author.auth).is_success
        retweet = stream.next("tweet")
        assert retweet.data == {
            "tweet_id": theirs,
            "author_id": None,
            "retweeted_by": author.user_id,
        }

        _like(client, other, posted)
        counts = stream.next("counts", tweet_id=posted)
        assert counts.data == {
            "tweet_id": posted,
            "likes": 1,
            "retweets": 0,
            "replies": 0,
            "quotes": 0,
        }

        assert client.delete(f"/api/v1/tweets/{posted}", headers=author.auth).status_code == 204
        deleted = stream.next("delete", tweet_id=posted)
        assert deleted.data == {"tweet_id": posted, "author_id": author.user_id}

        follow(client, other, reader)
        notified = stream.next("notification")
        assert notified.data["type"] == "follow"
        assert notified.data["actor_id"] == other.user_id
        # The ids increase: a client resumes from the last it saw.
        ids = [event.id for event in stream.received if event.id]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        # The author they do not follow was never announced on their own.
        assert all(
            e.data.get("author_id") != other.user_id for e in stream.received if e.kind == "tweet"
        )
        # The retweeted tweet was announced: its counts follow it.
        assert any(
            e.kind == "counts" and e.data["tweet_id"] == theirs and e.data["retweets"] == 1
            for e in stream.received
        )


def test_a_celebritys_post_reaches_a_follower_though_it_is_pulled(client, api_url):
    star, reader = register(client, "star"), register(client, "fan")
    follow(client, reader, star)
    for _ in range(CELEBRITY_THRESHOLD):
        follow(client, register(client, "fan"), star)
    with EventStream(api_url, reader.token) as stream:
        assert stream.next().kind == "ready"
        posted = post(client, star, "for my many followers")
        assert stream.next("tweet").data["tweet_id"] == posted
    assert eventually(lambda: posted in home_ids(client, reader))


def test_a_reconnect_with_last_event_id_gets_what_it_missed_once_in_order(client, api_url):
    author, reader = register(client, "ra"), register(client, "rr")
    follow(client, reader, author)
    with EventStream(api_url, reader.token) as stream:
        assert stream.next().kind == "ready"
        first = post(client, author, "seen live")
        seen = stream.next("tweet")
        assert seen.data["tweet_id"] == first
    missed = [post(client, author, f"missed {n}") for n in range(3)]
    assert eventually(lambda: set(missed) <= set(home_ids(client, reader)))
    with EventStream(api_url, reader.token, last_event_id=seen.id) as again:
        ready = again.next()
        assert ready.kind == "ready" and ready.data["resumed"] is True
        caught_up = [again.next("tweet").data["tweet_id"] for _ in missed]
        assert caught_up == missed
        after = post(client, author, "live again")
        assert again.next("tweet").data["tweet_id"] == after
        with pytest.raises(queue.Empty):  # nothing more: each missed post came once
            again.next("tweet", timeout=1.0)
    tweets = [e.data["tweet_id"] for e in again.received if e.kind == "tweet"]
    assert tweets == [*missed, after]


def test_a_last_event_id_beyond_the_stream_gets_reset(client, api_url):
    reader = register(client, "rs")
    with EventStream(api_url, reader.token, last_event_id="99999999999999-0") as stream:
        reset = stream.next()
        assert reset.kind == "reset" and reset.data["resumed"] is False
        assert reset.id  # resume from here after fetching the timeline


def test_the_token_may_come_in_the_query_for_eventsource(client, api_url):
    reader = register(client, "rq")
    with client.stream("GET", STREAM_PATH, params={"access_token": reader.token}) as response:
        assert response.status_code == 200
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if parse_events(lines):
                break
    assert parse_events(lines)[0].kind == "ready"


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, {}, 401),
        ({}, {"access_token": "not.a.jwt"}, 401),
        ("reader", {}, 400),
    ],
    ids=["no token", "bad token", "bad query token", "bad Last-Event-ID"],
)
def test_a_stream_refused_is_a_problem(client, headers, params, status):
    if headers == "reader":
        headers = register(client, "rb").auth | {"Last-Event-ID": "yesterday"}
    response = client.get(STREAM_PATH, headers=headers, params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def _appended(stack, kind: str, **match) -> bool:
    """Whether the agents appended an event of `kind` (with `match` among its fields) to the
    live-event stream, which every API process routes in order."""
    redis = sync_redis(stack.settings)
    try:
        entries = redis.xrevrange(f"{stack.settings.redis_prefix}live", count=2000)
    finally:
        redis.close()
    return any(
        event.kind == kind and all(getattr(event, name) == value for name, value in match.items())
        for event in (LiveEvent.decode(fields[FIELD]) for _, fields in entries)
    )


def test_a_stream_leaves_out_the_muted_and_those_a_block_stands_between(client, api_url, stack):
    reader, muted, friend, blocker = (register(client, name) for name in ("lr", "lm", "lf", "lb"))
    for followee in (muted, friend):
        follow(client, reader, followee)
    theirs = post(client, blocker, "the reader may not see this")
    mine = post(client, reader, "liked by someone I mute")
    for user, path in (
        (reader, f"/users/{muted.user_id}/mute"),
        (blocker, f"/users/{reader.user_id}/block"),
    ):
        assert client.post(f"/api/v1{path}", headers=user.auth).status_code == 200
    # The stream waits for the reader's own writes (the mute) when it connects; the block is
    # the blocker's: applied before the stream opens, it is in what the stream reads then.
    blocked = {"reader_id": int(reader.user_id), "author_id": int(blocker.user_id)}
    assert eventually(lambda: _appended(stack, "hide", **blocked))
    with EventStream(api_url, reader.token) as stream:
        assert stream.next().kind == "ready"
        left_out = [post(client, muted, "muted")]
        assert client.post(f"/api/v1/tweets/{theirs}/retweet", headers=friend.auth).is_success
        left_out.append(theirs)
        assert client.post(f"/api/v1/tweets/{mine}/like", headers=muted.auth).is_success
        for tweet_id in left_out:
            assert eventually(lambda: _appended(stack, "tweet", tweet_id=int(tweet_id)))  # noqa: B023
        liked = {"reader_id": int(reader.user_id), "subject_id": int(muted.user_id)}
        assert eventually(lambda: _appended(stack, "notification", **liked))
        # Appended after those: had they been sent, they would have come first.
        shown = post(client, friend, "the reader sees this")
        assert stream.next("tweet").data["tweet_id"] == shown
        told = [e.data.get("tweet_id") for e in stream.received if e.kind == "tweet"]
        assert told == [shown]
        assert not [e for e in stream.received if e.kind == "notification"]
        # Unmuted, the muted user's posts come again.
        unmute = client.delete(f"/api/v1/users/{muted.user_id}/mute", headers=reader.auth)
        assert unmute.status_code == 200
        unmuted = {"reader_id": int(reader.user_id), "author_id": int(muted.user_id)}
        assert eventually(lambda: _appended(stack, "unmute", **unmuted))
        again = post(client, muted, "unmuted")
        assert stream.next("tweet").data["tweet_id"] == again


def _metric(api_url: str, name: str) -> float:
    text = httpx.get(f"{api_url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def _stalled_stream(api_url: str, token: str) -> socket.socket:
    """A stream whose client reads its head, then nothing: a small receive buffer fills."""
    host, port = httpx.URL(api_url).host, httpx.URL(api_url).port
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, port))
    request = f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}"
    stalled.sendall(f"{request}\r\n\r\n".encode())
    head = b""
    while b"event: ready" not in head:
        head += stalled.recv(4096)
    assert head.startswith(b"HTTP/1.1 200")
    return stalled


def test_a_stalled_client_is_dropped_and_the_others_go_on(client, api_url, stack):
    slow, healthy, author = register(client, "sl"), register(client, "sh"), register(client, "sa")
    follow(client, healthy, author)
    dropped_before = _metric(api_url, "chirp_stream_drops_total")
    stalled = _stalled_stream(api_url, slow.token)

    async def flood(count: int) -> None:
        redis = redis_client(stack.settings)
        try:
            live = RedisLiveEvents(redis, f"{stack.settings.redis_prefix}live", 100_000)
            # The slow reader's own tweets (ids that exist nowhere else): only it is sent them.
            await live.publish([tweet_entered(slow.id, Entry(n, n)) for n in range(count)])
        finally:
            await redis.aclose()

    try:
        # The socket buffers hold some megabytes before the server's queue fills at all.
        for _ in range(20):
            asyncio.run(flood(5000))
            if eventually(lambda: _metric(api_url, "chirp_stream_drops_total") > dropped_before, 1):
                break
        assert _metric(api_url, "chirp_stream_drops_total") > dropped_before
        with EventStream(api_url, healthy.token) as stream:
            assert stream.next().kind == "ready"
            posted = post(client, author, "still live for the others")
            assert stream.next("tweet").data["tweet_id"] == posted
        assert client.get("/readyz").status_code == 200
        # The stalled client, reading at last, finds its stream ended with a word why.
        stalled.settimeout(10)
        tail, started = b"", time.monotonic()
        while b"event: dropped" not in tail[-4096:] and time.monotonic() - started < 30:
            chunk = stalled.recv(1 << 20)
            if not chunk:
                break
            tail = tail[-8192:] + chunk
        assert b"event: dropped" in tail
    finally:
        stalled.close()
