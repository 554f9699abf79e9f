"""Per-user write rate limits with seed 003's defaults (10 tweets a minute, 100 follows and
1,000 likes an hour): past them a write is refused with 429 and Retry-After and records
nothing; each user and each kind of write has its own bucket; a retry that replays its
stored answer draws no token."""

from __future__ import annotations

import uuid

import httpx
import pytest

from schemas import events as ev
from tests.conftest import TEST_PASSWORD_COST
from tests.support.clients import post, register


@pytest.fixture(scope="module")
def limited(stack, agents):
    """An API process with the production limits (the suite's others have none)."""
    with httpx.Client(base_url=stack.start_api(**TEST_PASSWORD_COST), timeout=30) as client:
        yield client


def test_the_eleventh_tweet_in_a_minute_is_refused_and_recorded_nowhere(limited, event_log):
    user = register(limited, "limit")
    key = str(uuid.uuid4())
    first = limited.post(
        "/api/v1/tweets", json={"content": "tweet 0"}, headers=user.auth | {"Idempotency-Key": key}
    )
    assert first.status_code == 201
    # The bucket's state (draft-ietf-httpapi-ratelimit-headers): 10 a minute, 9 left.
    assert first.headers["ratelimit-policy"] == '"tweets";q=10;w=60'
    remaining, reset = _ratelimit(first.headers["ratelimit"], "tweets")
    assert remaining == 9 and 0 <= reset <= 60
    for number in range(1, 10):
        post(limited, user, f"tweet {number}")

    refused = limited.post("/api/v1/tweets", json={"content": "one too many"}, headers=user.auth)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "10 tweets per minute" in refused.json()["detail"]
    assert _ratelimit(refused.headers["ratelimit"], "tweets")[0] == 0

    # A retry of an accepted post still gets its answer: it produces nothing new.
    again = limited.post(
        "/api/v1/tweets", json={"content": "tweet 0"}, headers=user.auth | {"Idempotency-Key": key}
    )
    assert again.status_code == 201 and again.json() == first.json()
    # A retweet is a tweet too; liking is a bucket of its own.
    tweet_id = first.json()["tweet_id"]
    assert limited.post(f"/api/v1/tweets/{tweet_id}/retweet", headers=user.auth).status_code == 429
    assert limited.post(f"/api/v1/tweets/{tweet_id}/like", headers=user.auth).status_code == 200

    event_log.sync()
    posted = [
        event
        for event in event_log.by_actor(int(user.user_id))
        if isinstance(event, ev.TweetPosted)
    ]
    assert sorted(event.content for event in posted) == sorted(f"tweet {n}" for n in range(10))
    # Another user has a bucket of their own.
    other = register(limited, "limit")
    post(limited, other, "my first")


def test_follows_are_limited_per_hour(limited):
    user = register(limited, "flimit")
    others = [register(limited, "ftarget") for _ in range(3)]
    for number in range(100):  # follow and unfollow: only the follows draw tokens
        target = others[number % 3]
        assert (
            limited.post(f"/api/v1/users/{target.user_id}/follow", headers=user.auth).status_code
            == 200
        )
    refused = limited.post(f"/api/v1/users/{others[0].user_id}/follow", headers=user.auth)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert (
        limited.delete(f"/api/v1/users/{others[0].user_id}/follow", headers=user.auth).status_code
        == 200
    )


def _ratelimit(field: str, policy: str) -> tuple[int, int]:
    """(remaining, seconds to reset) of a `RateLimit` field for `policy`."""
    name, *params = field.split(";")
    assert name == f'"{policy}"', field
    values = dict(param.split("=") for param in params)
    return int(values["r"]), int(values["t"])
