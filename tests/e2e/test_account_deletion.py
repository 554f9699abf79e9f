"""Deleting an account through the API, on the real stack (docs/safety.md, "Deletion and
erasure"): the password confirms it; the person's tweets, likes, retweets, follows, profile
and notifications leave every read model (PostgreSQL, Redis and the search index are searched
for their words); other users' tweets stay, with their counts corrected; the account's token
and password stop working; its username is reserved. Then `chirp replay all` and
`chirp export` over the whole log: the archive, the export and every read model rebuilt hold
nothing readable of the person, and every other user reads what they read before."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import psycopg
import pytest

from operations.stack import LocalStack
from schemas import events as ev
from schemas import sealing
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import TEST_SETTINGS, own_stack
from tests.support.clients import PASSWORD, eventually, follow, home_ids, post, register
from tests.support.read_models import (
    LIVE_GROUP,
    differences,
    notifications_snapshot,
    postgres_rows_containing,
    redis_values_containing,
    snapshot,
    wait_caught_up,
)


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


@pytest.fixture(name="own_stack")
def _own_stack():
    with own_stack() as started:
        yield started


def _chirp(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", *args],
        env=stack.environment() | TEST_SETTINGS,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return done


def _caught_up(stack: LocalStack) -> None:
    ends = log_end_offsets(
        stack.settings.bootstrap_servers, topic_registry(stack.settings).event_topics()
    )
    target = {f"{topic}:{part}": end - 1 for (topic, part), end in ends.items() if end}
    follows = topic_registry(stack.settings).follows.name
    for group in (LIVE_GROUP, f"{LIVE_GROUP}-notifications", f"{LIVE_GROUP}-search"):
        if group.endswith("-search"):  # it reads no follows
            target = {place: end for place, end in target.items() if follows not in place}
        wait_caught_up(stack, group, "chirp:", target)


@pytest.mark.slow
def test_after_a_deletion_replay_all_and_export_bring_nothing_of_the_person_back(own_stack):
    stack, base_url = own_stack
    words, name, bio = (f"{kind}{uuid.uuid4().hex[:10]}" for kind in ("words", "name", "bio"))
    with httpx.Client(base_url=base_url, timeout=30) as client:
        gone, *stay = [register(client, "er") for _ in range(4)]
        edit = _act(client, gone, "PATCH", "/users/me", json={"display_name": name, "bio": bio})
        assert edit.status_code == 200, edit.text
        for user in (gone, *stay):
            for other in (gone, *stay):
                if other is not user:
                    follow(client, user, other)
        theirs = [post(client, gone, f"{words} number {n} #erasable") for n in range(3)]
        mine = [post(client, user, f"{user.username} stays #kept") for user in stay]
        for tweet_id in mine:
            for engagement in ("like", "retweet"):
                assert _act(client, gone, "POST", f"/tweets/{tweet_id}/{engagement}").is_success
        post(client, gone, f"a reply with {words}", reply_to=mine[0])
        post(client, gone, f"a quote with {words}", quote_of=mine[1])
        assert _act(client, stay[0], "POST", f"/tweets/{mine[1]}/like").is_success
        replies = [post(client, user, "answering", reply_to=theirs[0]) for user in stay]
        mention = post(client, stay[1], f"hello @{gone.username}")
        for user in stay:
            assert _act(client, user, "POST", f"/tweets/{theirs[1]}/like").is_success
        _caught_up(stack)
        assert _counts(client, mine[1]) == (2, 1, 0, 1)

        deleted = _act(client, gone, "DELETE", "/users/me", json={"password": PASSWORD})
        assert deleted.status_code == 204, deleted.text
        assert eventually(lambda: client.get(f"/api/v1/users/{gone.user_id}").status_code == 404)
    _caught_up(stack)
    tweet_ids = mine + replies + [mention] + theirs
    before = snapshot(base_url, stay, tweet_ids)
    notes = notifications_snapshot(base_url, stay)
    # Counts are right: what the person did to other tweets and users is taken off.
    assert before[f"tweet {mine[0]}"][1]["reply_count"] == 0
    assert before[f"tweet {mine[1]}"][1]["like_count"] == 1
    assert before[f"tweet {mine[1]}"][1]["quote_count"] == 0
    assert all(before[f"tweet {t}"][1]["retweet_count"] == 0 for t in mine)
    assert all(before[f"tweet {t}"][0] == 404 for t in theirs)
    assert [before[f"profile {u.username}"]["followers_count"] for u in stay] == [2, 2, 2]
    assert [before[f"profile {u.username}"]["following_count"] for u in stay] == [2, 2, 2]

    # Nothing is written meanwhile: once switched over, the new generations are complete.
    _chirp(stack, "replay", "all")
    # Every other user reads what they read before, now from the rebuilt read models.
    assert differences(snapshot(base_url, stay, tweet_ids), before) == {}
    assert notifications_snapshot(base_url, stay) == notes
    with httpx.Client(base_url=base_url, timeout=30) as client:
        found = _act(client, stay[0], "GET", "/search", params={"q": words}).json()
        assert found["tweets"] == []
        assert gone.user_id not in _people(client, stay[0], gone.username)
        assert (
            len(_act(client, stay[0], "GET", "/search", params={"q": "stays"}).json()["tweets"])
            == 3
        )

    needles = [words, name, bio]
    assert postgres_rows_containing(stack, needles) == []
    assert redis_values_containing(stack, needles) == []
    # The archive keeps the person's events, their words and names as ciphertext only.
    with psycopg.connect(stack.settings.postgres) as conn:
        archived = [
            bytes(value)
            for (value,) in conn.execute(
                f"SELECT value FROM {stack.settings.archive_schema}.events"
            )
        ]
    assert len(archived) > 20
    assert not [value for value in archived if any(n.encode() in value for n in needles)]
    exported = _chirp(stack, "export", "--format", "jsonl").stdout
    assert not any(n.encode() in exported for n in needles)
    events = [ev.decode(line) for line in exported.splitlines()]
    theirs_exported = [
        e for e in events if isinstance(e, ev.TweetPosted) and e.author_id == gone.id
    ]
    assert len(theirs_exported) == 5
    assert all(sealing.is_sealed(e) and e.content == "" for e in theirs_exported)
    # Other users' words are exported in the clear.
    assert b" stays #kept" in exported
