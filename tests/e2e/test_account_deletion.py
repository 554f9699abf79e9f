"""Deleting an account through the API, on the real stack (docs/safety.md, "Deletion and
erasure"): the password confirms it; the person's tweets, likes, retweets, follows, profile
and notifications leave every read model (PostgreSQL, Redis and the search index are searched
for their words); other users' tweets stay, with their counts corrected; the account's token
and password stop working; its username is reserved."""

from __future__ import annotations

import uuid

from schemas import events as ev
from tests.support.clients import PASSWORD, eventually, follow, home_ids, post, register
from tests.support.read_models import postgres_rows_containing, redis_values_containing


def _act(client, user, method: str, path: str, **extra):
    return client.request(method, f"/api/v1{path}", headers=user.auth, **extra)


def _counts(client, tweet_id: str) -> tuple[int, int, int, int] | None:
    response = client.get(f"/api/v1/tweets/{tweet_id}")
    if response.status_code != 200:
        return None
    tweet = response.json()
    return tweet["like_count"], tweet["retweet_count"], tweet["reply_count"], tweet["quote_count"]


def _follow_counts(client, user) -> tuple[int, int]:
    profile = client.get(f"/api/v1/users/{user.user_id}").json()
    return profile["followers_count"], profile["following_count"]


def _searched(client, user, q: str) -> list[str]:
    response = _act(client, user, "GET", "/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [tweet["tweet_id"] for tweet in response.json()["tweets"]]


def _people(client, user, q: str) -> list[str]:
    response = _act(client, user, "GET", "/users/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [found["id"] for found in response.json()["users"]]


def _notified_by(client, user, actor) -> list[str]:
    response = _act(client, user, "GET", "/notifications", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [
        note["type"]
        for note in response.json()["notifications"]
        if any(a["id"] == actor.user_id for a in note["actors"])
    ]


def test_deleting_an_account_removes_the_person_from_every_read_model(stack, client, event_log):
    # Words only this person wrote: the read models are searched for them at the end.
    words, name, bio = (f"{kind}{uuid.uuid4().hex[:10]}" for kind in ("words", "name", "bio"))
    ada, bob, cy = register(client, "ada"), register(client, "bob"), register(client, "cy")
    edit = _act(client, ada, "PATCH", "/users/me", json={"display_name": name, "bio": bio})
    assert edit.status_code == 200, edit.text
    follow(client, bob, ada)
    follow(client, ada, cy)
    follow(client, bob, cy)
    theirs = post(client, ada, f"my own {words} #erasable")
    cys = post(client, cy, "cy says hello")
    for engagement in ("like", "retweet"):
        assert _act(client, ada, "POST", f"/tweets/{cys}/{engagement}").status_code == 200
        assert _act(client, bob, "POST", f"/tweets/{theirs}/{engagement}").status_code == 200
    ada_reply = post(client, ada, f"replying {words}", reply_to=cys)
    ada_quote = post(client, ada, f"quoting {words}", quote_of=cys)
    bob_reply = post(client, bob, "bob answers ada", reply_to=theirs)
    cy_mention = post(client, cy, f"hello @{ada.username}")
    assert eventually(lambda: _counts(client, cys) == (1, 1, 1, 1), timeout=10)
    assert eventually(lambda: theirs in home_ids(client, bob), timeout=10)
    assert eventually(lambda: _searched(client, cy, words), timeout=10)
    assert eventually(lambda: _notified_by(client, cy, ada), timeout=10)
    assert _follow_counts(client, cy) == (2, 0) and _follow_counts(client, bob) == (0, 2)
    # The probes below find them while the account lives.
    assert postgres_rows_containing(stack, [words]) and postgres_rows_containing(stack, [bio])
    assert redis_values_containing(stack, [words]) and redis_values_containing(stack, [name])

    # A wrong password is refused, and records nothing.
    wrong = _act(client, ada, "DELETE", "/users/me", json={"password": "not the password"})
    assert wrong.status_code == 403, wrong.text
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["type"].endswith(":wrong-password")
    assert _act(client, ada, "DELETE", "/users/me", json={}).status_code == 422
    assert not [e for e in event_log.by_actor(ada.id) if isinstance(e, ev.UserDeleted)]

    deleted = _act(client, ada, "DELETE", "/users/me", json={"password": PASSWORD})
    assert deleted.status_code == 204, deleted.text
    assert [e.user_id for e in event_log.by_actor(ada.id) if isinstance(e, ev.UserDeleted)] == [
        ada.id
    ]

    # The token and the password stop working; the username is reserved.
    for method, path in (("GET", "/users/me"), ("GET", "/notifications")):
        assert _act(client, ada, method, path).status_code == 401
    assert _act(client, ada, "POST", "/tweets", json={"content": "back?"}).status_code == 401
    login = client.post("/api/v1/auth/token", json={"username": ada.username, "password": PASSWORD})
    assert login.status_code == 401
    again = client.post(
        "/api/v1/users",
        json={"username": ada.username.upper(), "display_name": "new", "password": PASSWORD},
    )
    assert again.status_code == 409 and again.json()["type"].endswith(":username-reserved")
    # Nobody can follow, mention or reply to them any more.
    assert _act(client, cy, "POST", f"/users/{ada.user_id}/follow").status_code == 404
    assert _act(client, cy, "POST", f"/tweets/{theirs}/like").status_code == 404

    # Gone from every read: profile, tweets, timelines, counts, search, notifications.
    assert eventually(lambda: client.get(f"/api/v1/users/{ada.user_id}").status_code == 404)
    for tweet_id in (theirs, ada_reply, ada_quote):
        assert eventually(lambda t=tweet_id: _counts(client, t) is None)
    assert eventually(lambda: _counts(client, cys) == (0, 0, 0, 0))
    assert _follow_counts(client, cy) == (1, 0) and _follow_counts(client, bob) == (0, 1)
    assert theirs not in home_ids(client, bob)
    assert cys in home_ids(client, bob)  # cy's tweet, no longer as ada's retweet
    assert all(
        tweet["retweeted_by"] is None
        for tweet in _act(client, bob, "GET", "/timeline/home").json()["tweets"]
    )
    assert eventually(lambda: not _searched(client, cy, words), timeout=10)
    assert eventually(lambda: ada.user_id not in _people(client, cy, ada.username), timeout=10)
    assert eventually(lambda: not _notified_by(client, cy, ada), timeout=10)
    # Other users' words stay: bob's reply, cy's mention.
    assert _counts(client, bob_reply) == (0, 0, 0, 0)
    assert _counts(client, cy_mention) is not None

    # Nothing of their words, name or bio is left in any read model's store.
    assert postgres_rows_containing(stack, [words, name, bio]) == []
    assert redis_values_containing(stack, [words, name, bio]) == []
