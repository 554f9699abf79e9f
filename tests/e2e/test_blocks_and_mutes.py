"""Blocks and mutes through the API, on the real stack: what a block ends and refuses from
then on, either way, what unblocking restores (nothing), and the lists of one's own blocks
and mutes (docs/safety.md)."""

from __future__ import annotations

from schemas import events as ev
from tests.support.clients import eventually, follow, home_ids, post, register


def _act(client, user, method: str, path: str, **extra):
    return client.request(method, f"/api/v1{path}", headers=user.auth, **extra)


def _ids(client, user, path: str) -> list[str]:
    response = _act(client, user, "GET", path, params={"limit": 100})
    assert response.status_code == 200, response.text
    return [found["id"] for found in response.json()["users"]]


def _counts(client, user) -> tuple[int, int]:
    profile = client.get(f"/api/v1/users/{user.user_id}").json()
    return profile["followers_count"], profile["following_count"]


def _refused_as_blocked(response, who: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(":blocked") and who in problem["detail"]


def test_a_block_ends_follows_both_ways_and_refuses_every_act_between_the_two(client, event_log):
    ada, bob, cy = register(client, "ada"), register(client, "bob"), register(client, "cy")
    follow(client, ada, bob)
    follow(client, bob, ada)
    follow(client, cy, ada)
    ada_tweet, bob_tweet = post(client, ada, "ada was here"), post(client, bob, "bob too")
    assert eventually(lambda: bob_tweet in home_ids(client, ada), timeout=10)
    assert eventually(lambda: ada_tweet in home_ids(client, bob), timeout=10)

    answer = _act(client, ada, "POST", f"/users/{bob.user_id}/block")
    assert answer.status_code == 200 and answer.json() == {"user_id": bob.user_id, "blocking": True}
    # Blocking again records nothing more.
    assert _act(client, ada, "POST", f"/users/{bob.user_id}/block").status_code == 200
    assert len([e for e in event_log.by_actor(ada.id) if isinstance(e, ev.UserBlocked)]) == 1
    assert _ids(client, ada, "/blocks") == [bob.user_id]
    assert _ids(client, bob, "/blocks") == []

    # The follows end both ways; the counts move; each is out of the other's home.
    assert eventually(lambda: _counts(client, ada) == (1, 0), timeout=10)  # cy still follows
    assert eventually(lambda: _counts(client, bob) == (0, 0), timeout=10)
    assert _ids(client, ada, f"/users/{ada.user_id}/following") == []
    assert _ids(client, bob, f"/users/{bob.user_id}/following") == []
    assert bob_tweet not in home_ids(client, ada) and ada_tweet not in home_ids(client, bob)

    # The blocked user can neither follow, reply, quote, like nor retweet: each is a 403 and
    # records nothing; the blocker neither, towards the blocked user.
    before = len(event_log.by_actor(bob.id, ada.id))
    for actor, other, tweet, who in ((bob, ada, ada_tweet, "blocks you"),
                                     (ada, bob, bob_tweet, "you block")):  # fmt: skip
        _refused_as_blocked(_act(client, actor, "POST", f"/users/{other.user_id}/follow"), who)
        for fields in ({"reply_to": tweet}, {"quote_of": tweet}):
            reply = _act(client, actor, "POST", "/tweets", json={"content": "hm", **fields})
            _refused_as_blocked(reply, who)
        for engagement in ("like", "retweet"):
            _refused_as_blocked(_act(client, actor, "POST", f"/tweets/{tweet}/{engagement}"), who)
    assert len(event_log.by_actor(bob.id, ada.id)) == before

    # A mention of the blocker posts, but names no one to notify.
    mention = post(client, bob, f"hey @{ada.username}")
    [posted] = [
        e for e in event_log.by_actor(bob.id)
        if isinstance(e, ev.TweetPosted) and str(e.tweet_id) == mention
    ]  # fmt: skip
    assert posted.mentions == (ada.username.lower(),) and posted.mentioned_ids == ()

    # A third user is not affected.
    follow(client, cy, bob)
    assert eventually(lambda: _counts(client, bob) == (1, 0), timeout=10)

    # Unblocking restores nothing; following again is allowed.
    answer = _act(client, ada, "DELETE", f"/users/{bob.user_id}/block")
    assert answer.json() == {"user_id": bob.user_id, "blocking": False}
    assert _ids(client, ada, "/blocks") == []
    assert _counts(client, bob) == (1, 0)
    follow(client, bob, ada)
    assert eventually(lambda: _counts(client, ada) == (2, 0), timeout=10)


def test_blocking_and_muting_oneself_or_nobody_is_refused(client):
    ada = register(client, "ada")
    for verb in ("block", "mute"):
        own = _act(client, ada, "POST", f"/users/{ada.user_id}/{verb}")
        assert own.status_code == 422 and own.json()["type"].endswith(f":self-{verb}")
        nobody = _act(client, ada, "POST", f"/users/{2**62}/{verb}")
        assert nobody.status_code == 404
        assert nobody.headers["content-type"].startswith("application/problem+json")
        assert client.post(f"/api/v1/users/{ada.user_id}/{verb}").status_code == 401
    assert client.get("/api/v1/blocks").status_code == 401


def test_mutes_are_listed_and_lifted_and_change_no_follow(client, event_log):
    ada, bob, cy = register(client, "ada"), register(client, "bob"), register(client, "cy")
    follow(client, ada, bob)
    for muted in (bob, cy):
        answer = _act(client, ada, "POST", f"/users/{muted.user_id}/mute")
        assert answer.json() == {"user_id": muted.user_id, "muting": True}
    assert _act(client, ada, "POST", f"/users/{bob.user_id}/mute").status_code == 200
    assert _ids(client, ada, "/mutes") == sorted([bob.user_id, cy.user_id], key=int)
    # Paged by id.
    first = _act(client, ada, "GET", "/mutes", params={"limit": 1}).json()
    assert len(first["users"]) == 1 and first["next_cursor"]
    rest = _act(client, ada, "GET", "/mutes", params={"limit": 1, "cursor": first["next_cursor"]})
    assert [u["id"] for u in first["users"] + rest.json()["users"]] == _ids(client, ada, "/mutes")

    assert _act(client, ada, "DELETE", f"/users/{cy.user_id}/mute").json()["muting"] is False
    assert _ids(client, ada, "/mutes") == [bob.user_id]
    # A mute is not a block: the follow stands, and the muted user may still act.
    assert _ids(client, ada, f"/users/{ada.user_id}/following") == [bob.user_id]
    follow(client, bob, ada)
    muted = [e for e in event_log.by_actor(ada.id) if isinstance(e, ev.UserMuted | ev.UserUnmuted)]
    assert len(muted) == 4  # mutes are recorded every time; projections apply them once
