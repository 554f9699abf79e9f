"""`GET /api/v1/timeline/home?order=ranked` on the real stack: the published model's order, the
diversity rule on every page, each candidate at most once through the cursor, social proof's
`reason`, and models swapped under traffic without an error (docs/ranking.md).

The models here are written by hand, so that the expected order is known; training is tested in
tests/unit/test_train_ranker.py."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from api.ranked import RankedPosition
from projections.ranker_models import MODEL_POLL_SECONDS, publish
from projections.ranking import FEATURES, Model
from projections.timeline_entries import encode_cursor
from tests.support.clients import eventually, follow, home_ids, post, register

RANKED = "/api/v1/timeline/home"


def _model(version: str, **weights: float) -> Model:
    return Model(
        version=version,
        features=FEATURES,
        mean=(0.0,) * len(FEATURES),
        scale=(1.0,) * len(FEATURES),
        coef=tuple(weights.get(name, 0.0) for name in FEATURES),
        intercept=0.0,
        metrics={},
    )


def _publish(stack, model: Model) -> None:
    async def run() -> None:
        async with AsyncConnectionPool(stack.settings.postgres, min_size=1, max_size=1) as pool:
            await publish(pool, model)

    asyncio.run(run())


def _ranked(client: httpx.Client, user, cursor: str | None = None, limit: int = 20):
    params = {"order": "ranked", "limit": limit} | ({"cursor": cursor} if cursor else {})
    return client.get(RANKED, headers=user.auth, params=params)


def _served(client: httpx.Client, user, version: str) -> bool:
    return _ranked(client, user).headers.get("Chirp-Ranker-Model") == version


def _like(client: httpx.Client, user, tweet_id: str) -> None:
    assert client.post(f"/api/v1/tweets/{tweet_id}/like", headers=user.auth).is_success


def _diverse(page: list[dict]) -> bool:
    """No author twice in a row while another author's tweet is left on the page."""
    authors = [tweet["user"]["id"] for tweet in page]
    return all(
        authors[i] != authors[i - 1] or set(authors[i:]) == {authors[i]}
        for i in range(1, len(authors))
    )


@pytest.fixture(name="scene")
def _scene(client):
    """A reader following four authors: one it liked before (the closest), a friend it liked
    too, whose like of a third author's tweet is social proof, and a prolific newest one."""
    reader = register(client, "rk")
    closest, friend, proved, prolific = (register(client, p) for p in ("cl", "fr", "pr", "po"))
    for author in (closest, friend, proved, prolific):
        follow(client, reader, author)
    tweets = {
        "friend": [post(client, friend, "a friend's thought")],
        "closest": [post(client, closest, f"closest {n}") for n in range(4)],
        "proved": [post(client, proved, f"proved {n}") for n in range(2)],
    }
    _like(client, reader, tweets["friend"][0])
    _like(client, reader, tweets["closest"][0])
    _like(client, friend, tweets["proved"][0])
    tweets["prolific"] = [post(client, prolific, f"prolific {n}") for n in range(6)]
    everything = {t for ids in tweets.values() for t in ids}
    assert eventually(lambda: set(home_ids(client, reader)) == everything, 10)
    names = {
        "closest": closest.user_id,
        "friend": friend.user_id,
        "proved": proved.user_id,
        "prolific": prolific.user_id,
    }
    return reader, friend, tweets, names


def test_the_ranked_timeline_orders_by_the_model_pages_once_each_and_gives_reasons(
    client, stack, scene
):
    reader, friend, tweets, names = scene
    model = _model("e2e-affinity", affinity_like=3.0, social_proof=2.0, recency=-0.1)
    _publish(stack, model)
    assert eventually(lambda: _served(client, reader, model.version), 4 * MODEL_POLL_SECONDS)
    proved = tweets["proved"][0]

    def reason_shown() -> bool:
        page = _ranked(client, reader, limit=100).json()["tweets"]
        return any(t["tweet_id"] == proved and t["reason"] for t in page)

    assert eventually(reason_shown, 10)

    # Chronologically the prolific author's newest come first; ranked, those of the authors
    # the reader liked (affinity), then the tweet a friend liked (social proof).
    assert home_ids(client, reader)[0] == tweets["prolific"][-1]
    whole = _ranked(client, reader, limit=100).json()["tweets"]
    assert {whole[0]["user"]["id"], whole[1]["user"]["id"]} == {
        names["closest"],
        names["friend"],
    }
    # The first tweet of anyone else is the one the friend liked.
    liked_authors = {names["closest"], names["friend"]}
    assert next(t for t in whole if t["user"]["id"] not in liked_authors)["tweet_id"] == proved
    [shown] = [t for t in whole if t["tweet_id"] == proved]
    assert shown["reason"] == {
        "kind": "liked",
        "user": {
            "id": friend.user_id,
            "username": friend.username,
            "display_name": f"Test {friend.username}",
        },
    }
    assert all(t["reason"] is None for t in whole if t["tweet_id"] != proved)
    assert _diverse(whole)

    # Paged by three: every candidate once, each page diverse, in the first page's ranking.
    seen, cursor, pages = [], None, 0
    while True:
        response = _ranked(client, reader, cursor, limit=3)
        assert response.status_code == 200, response.text
        body = response.json()
        assert _diverse(body["tweets"])
        seen += [t["tweet_id"] for t in body["tweets"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        if pages == 2:  # new engagement meanwhile moves no tweet of this ranking
            _like(client, reader, tweets["prolific"][0])
    assert len(seen) == len(set(seen)) == len(whole)
    assert set(seen) == {t["tweet_id"] for t in whole}


def test_a_model_published_under_traffic_is_served_without_an_error(client, stack, scene):
    reader, _, _, _ = scene
    first = _model("e2e-swap-1", affinity_like=1.0, recency=-1.0)
    _publish(stack, first)
    assert eventually(lambda: _served(client, reader, first.version), 4 * MODEL_POLL_SECONDS)
    stop, statuses, versions = threading.Event(), [], set()

    def read_constantly(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as reading:
            while not stop.is_set():
                response = _ranked(reading, reader, limit=5)
                statuses.append(response.status_code)
                versions.add(response.headers.get("Chirp-Ranker-Model"))
                if response.status_code == 200 and response.json()["next_cursor"]:
                    more = _ranked(reading, reader, response.json()["next_cursor"], limit=5)
                    statuses.append(more.status_code)

    readers = [
        threading.Thread(target=read_constantly, args=(str(client.base_url),)) for _ in range(3)
    ]
    for thread in readers:
        thread.start()
    try:
        second = _model("e2e-swap-2", retweets=1.0, recency=-2.0)
        _publish(stack, second)
        assert eventually(lambda: _served(client, reader, second.version), 4 * MODEL_POLL_SECONDS)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert statuses and set(statuses) == {200}
    assert {first.version, second.version} <= versions


def test_bad_ranked_requests_get_problems(client, scene):
    reader, _, _, _ = scene
    garbage = _ranked(client, reader, cursor="not-a-cursor")
    assert garbage.status_code == 422
    assert garbage.headers["content-type"] == "application/problem+json"
    # A cursor of the right shape whose ranking is not there (expired): start again.
    expired = _ranked(client, reader, cursor=RankedPosition("AAAAAAAA", 3).encode())
    assert expired.status_code == 410
    assert expired.json()["type"].endswith("ranking-expired")
    since = client.get(
        RANKED, headers=reader.auth, params={"order": "ranked", "since": encode_cursor(1)}
    )
    assert since.status_code == 422 and "pull to refresh" in since.json()["detail"]
    unknown = client.get(RANKED, headers=reader.auth, params={"order": "best"})
    assert unknown.status_code == 422
