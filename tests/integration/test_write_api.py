"""Every write endpoint puts the expected event on the real broker, and only then answers."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import datetime

import httpx
import pytest

from schemas import events as ev
from streams.ids import id_time
from tests.support.clients import PASSWORD, register, unique_username


def events_of(event_log, user, event_type):
    return [event for event in event_log.by_actor(user.id) if isinstance(event, event_type)]


def test_registration_records_the_user_and_never_the_password(client, event_log):
    username = unique_username("reg")
    response = client.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": "Émile Zola",
            "password": PASSWORD,
            "bio": "J'accuse",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/users/{body['user_id']}"
    [event] = [
        e for e in event_log.by_actor(int(body["user_id"])) if isinstance(e, ev.UserRegistered)
    ]
    assert (event.username, event.display_name, event.bio) == (username, "Émile Zola", "J'accuse")
    assert PASSWORD not in repr(event)


def test_login_gives_a_token_that_acts_as_the_user(client, event_log):
    user = register(client, "log")
    login = client.post(
        "/api/v1/auth/token", json={"username": user.username.upper(), "password": PASSWORD}
    )
    assert login.status_code == 200 and login.json()["token_type"] == "bearer"
    token = login.json()["access_token"]
    posted = client.post(
        "/api/v1/tweets",
        json={"content": "logged in"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert posted.status_code == 201
    [event] = events_of(event_log, user, ev.TweetPosted)
    assert event.author_id == user.id


def test_a_post_becomes_a_tweet_posted_event_with_its_entities(client, event_log):
    user = register(client, "post")
    response = client.post(
        "/api/v1/tweets",
        headers=user.auth,
        json={"content": "Hello @Bob, meet #Kafka and #kafka https://x.org/#no"},
    )
    assert response.status_code == 201
    body = response.json()
    tweet_id = int(body["tweet_id"])
    assert datetime.fromisoformat(body["created_at"]) == id_time(tweet_id)
    [event] = events_of(event_log, user, ev.TweetPosted)
    assert event.tweet_id == tweet_id and event.author_id == user.id
    assert event.hashtags == ("kafka",) and event.mentions == ("bob",)
    assert event.reply_to is None


def test_a_reply_names_its_parent(client, event_log):
    author, replier = register(client, "par"), register(client, "rep")
    parent = client.post("/api/v1/tweets", headers=author.auth, json={"content": "parent"}).json()
    reply = client.post(
        "/api/v1/tweets",
        headers=replier.auth,
        json={"content": "a reply", "reply_to": parent["tweet_id"]},
    )
    assert reply.status_code == 201
    [event] = events_of(event_log, replier, ev.TweetPosted)
    assert event.reply_to == int(parent["tweet_id"])


def test_deleting_your_tweet_records_one_deletion(client, event_log):
    user = register(client, "del")
    tweet_id = client.post("/api/v1/tweets", headers=user.auth, json={"content": "oops"}).json()[
        "tweet_id"
    ]
    assert client.delete(f"/api/v1/tweets/{tweet_id}", headers=user.auth).status_code == 204
    assert client.delete(f"/api/v1/tweets/{tweet_id}", headers=user.auth).status_code == 204
    deletions = events_of(event_log, user, ev.TweetDeleted)
    assert [(d.tweet_id, d.author_id) for d in deletions] == [(int(tweet_id), user.id)]
    # A deleted tweet can no longer be liked or replied to.
    assert client.post(f"/api/v1/tweets/{tweet_id}/like", headers=user.auth).status_code == 404
    assert (
        client.post(
            "/api/v1/tweets", headers=user.auth, json={"content": "re", "reply_to": tweet_id}
        ).status_code
        == 422
    )


def test_follow_and_unfollow(client, event_log):
    follower, followee = register(client, "fol"), register(client, "fee")
    path = f"/api/v1/users/{followee.user_id}/follow"
    followed = client.post(path, headers=follower.auth)
    assert followed.status_code == 200
    assert followed.json() == {"user_id": followee.user_id, "following": True, "requested": False}
    unfollowed = client.delete(path, headers=follower.auth)
    assert unfollowed.json() == {
        "user_id": followee.user_id,
        "following": False,
        "requested": False,
    }
    kinds = [
        (type(e).__name__, e.follower_id, e.followee_id)
        for e in event_log.by_actor(follower.id)
        if not isinstance(e, ev.UserRegistered)
    ]
    assert kinds == [
        ("UserFollowed", follower.id, followee.id),
        ("UserUnfollowed", follower.id, followee.id),
    ]


@pytest.mark.parametrize(
    "action, done, undone",
    [
        ("like", ev.TweetLiked, ev.TweetUnliked),
        ("retweet", ev.TweetRetweeted, ev.TweetUnretweeted),
    ],
)
def test_engagements_name_the_tweet_and_the_user(client, event_log, action, done, undone):
    author, fan = register(client, "aut"), register(client, "fan")
    tweet_id = client.post(
        "/api/v1/tweets", headers=author.auth, json={"content": "like me"}
    ).json()["tweet_id"]
    assert client.post(f"/api/v1/tweets/{tweet_id}/{action}", headers=fan.auth).status_code == 200
    assert client.delete(f"/api/v1/tweets/{tweet_id}/{action}", headers=fan.auth).status_code == 200
    recorded = [e for e in event_log.by_actor(fan.id) if isinstance(e, (done, undone))]
    assert [type(e) for e in recorded] == [done, undone]
    assert all(e.tweet_id == int(tweet_id) and e.user_id == fan.id for e in recorded)
    if action == "retweet":
        assert all(e.author_id == author.id for e in recorded)


def test_a_retried_request_with_the_same_idempotency_key_takes_effect_once(client, event_log):
    user = register(client, "idem")
    headers = user.auth | {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/tweets", headers=headers, json={"content": "only once"})
    again = client.post("/api/v1/tweets", headers=headers, json={"content": "only once"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/api/v1/tweets", headers=headers, json={"content": "something else"})
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert len(events_of(event_log, user, ev.TweetPosted)) == 1


def test_concurrent_retries_of_one_request_produce_one_event(api_url, client, event_log):
    user = register(client, "race")
    headers = user.auth | {"Idempotency-Key": str(uuid.uuid4())}

    async def burst():
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post("/api/v1/tweets", headers=headers, json={"content": "burst"})
                    for _ in range(20)
                )
            )

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["tweet_id"] for r in responses}) == 1
    assert len(events_of(event_log, user, ev.TweetPosted)) == 1


def test_1000_posts_from_50_concurrent_clients_make_exactly_1000_ordered_events(
    api_url, client, event_log
):
    authors = [register(client, "bulk") for _ in range(50)]
    requests = [
        (author, str(uuid.uuid4()), f"post {n} by {author.username}")
        for n in range(20)
        for author in authors
    ]

    async def post_all(items):
        queue: asyncio.Queue = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)
        answers = []

        async def worker(http):
            while not queue.empty():
                author, key, content = queue.get_nowait()
                for attempt in range(3):  # a client retries a broken connection, same key
                    try:
                        response = await http.post(
                            "/api/v1/tweets",
                            json={"content": content},
                            headers=author.auth | {"Idempotency-Key": key},
                        )
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                answers.append((key, response.status_code, response.json()))

        async with httpx.AsyncClient(
            base_url=api_url, timeout=60, limits=httpx.Limits(max_connections=50)
        ) as http:
            await asyncio.gather(*(worker(http) for _ in range(50)))
        return answers

    first = asyncio.run(post_all(requests))
    assert [status for _, status, _ in first] == [201] * 1000
    retried = asyncio.run(post_all(requests))
    assert {key: body for key, _, body in retried} == {key: body for key, _, body in first}

    posted = [
        e for e in event_log.by_actor(*(a.id for a in authors)) if isinstance(e, ev.TweetPosted)
    ]
    assert len(posted) == 1000
    assert len({e.tweet_id for e in posted}) == 1000
    assert {e.tweet_id for e in posted} == {int(body["tweet_id"]) for _, _, body in first}
    # In each author's partition, in log order, ids only go up.
    by_author = defaultdict(list)
    for event in posted:
        by_author[event.author_id].append(event.tweet_id)
    assert all(ids == sorted(ids) and len(ids) == 20 for ids in by_author.values())


def test_fifty_concurrent_registrations_of_one_username_grant_it_once(api_url, event_log):
    username = unique_username("same")

    async def burst():
        async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/users",
                        json={"username": username, "display_name": "Twin", "password": PASSWORD},
                    )
                    for _ in range(50)
                )
            )

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49
    assert all(
        r.headers["content-type"] == "application/problem+json"
        for r in responses
        if r.status_code == 409
    )
    registered = [
        e for e in event_log.sync() if isinstance(e, ev.UserRegistered) and e.username == username
    ]
    assert len(registered) == 1
