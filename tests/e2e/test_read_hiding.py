"""What blocks, mutes and protected accounts hide at read time, through the API on the real
stack (docs/safety.md): each read a rule covers, the negative ones included (a third user,
and the other reads, still see everything)."""

from __future__ import annotations

import uuid

from tests.support.clients import User, eventually, follow, home, home_ids, post, register


def _get(client, path: str, user: User | None = None, **params):
    return client.get(f"/api/v1{path}", headers=user.auth if user else {}, params=params)


def _ok(client, path: str, user: User | None = None, **params) -> dict:
    response = _get(client, path, user, **params)
    assert response.status_code == 200, response.text
    return response.json()


def _act(client, user: User, method: str, path: str, **extra) -> dict:
    response = client.request(method, f"/api/v1{path}", headers=user.auth, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def _refused(response, kind: str, who: str = "") -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"urn:chirp:problem:{kind}" and who in problem["detail"]


def _word() -> str:
    return "zq" + uuid.uuid4().hex[:10]


def _tweet_ids(body: dict) -> list[str]:
    return [tweet["tweet_id"] for tweet in body["tweets"]]


def _user_ids(body: dict) -> list[str]:
    return [user["id"] for user in body["users"]]


def _searched(client, word: str, user: User | None) -> list[str]:
    return _tweet_ids(_ok(client, "/search", user, q=word))


def _notified(client, user: User) -> list[tuple[str, list[str]]]:
    """(type, actor ids) of each notification, newest first."""
    found = _ok(client, "/notifications", user, limit=100)["notifications"]
    return [(n["type"], [a["id"] for a in n["actors"]]) for n in found]


def test_a_block_hides_each_user_from_the_other_in_every_read(client):
    ada, bob, cy, dee = (register(client, p) for p in ("ada", "bob", "cy", "dee"))
    word = _word()
    follow(client, ada, cy)
    for user in (ada, bob):
        follow(client, user, dee)
    ada_tweet, bob_tweet = post(client, ada, f"ada {word}"), post(client, bob, f"bob {word}")
    dee_tweet = post(client, dee, "a conversation")
    replies = {
        user.user_id: post(client, user, "a reply", reply_to=dee_tweet) for user in (ada, bob)
    }
    for user in (ada, bob):
        _act(client, user, "POST", f"/tweets/{dee_tweet}/like")
    # Before the block: bob likes and answers ada's tweet; cy retweets and quotes bob's.
    _act(client, bob, "POST", f"/tweets/{ada_tweet}/like")
    bob_reply = post(client, bob, "answering ada", reply_to=ada_tweet)
    _act(client, cy, "POST", f"/tweets/{bob_tweet}/retweet")
    quote = post(client, cy, "look at this", quote_of=bob_tweet)
    assert eventually(
        lambda: _searched(client, word, dee) and len(_searched(client, word, dee)) == 2, timeout=15
    )
    assert eventually(lambda: ("like", [bob.user_id]) in _notified(client, ada), timeout=10)
    assert eventually(lambda: bob_tweet in home_ids(client, ada), timeout=10)  # cy's retweet

    _act(client, ada, "POST", f"/users/{bob.user_id}/block")
    home(client, ada)  # the block applied (read-your-writes)

    # The blocked user: 403 on the blocker's profile, timeline, tweets and conversations.
    for path in (
        f"/users/{ada.user_id}",
        f"/users/by/username/{ada.username}",
        f"/users/{ada.user_id}/tweets",
        f"/users/{ada.user_id}/followers",
        f"/tweets/{ada_tweet}",
        f"/tweets/{ada_tweet}/replies",
        f"/tweets/{ada_tweet}/context",
        f"/tweets/{ada_tweet}/likes",
    ):
        _refused(_get(client, path, bob), "blocked", "blocks you")
    # The blocker sees nothing of the blocked user either.
    for path in (f"/users/{bob.user_id}", f"/users/{bob.user_id}/tweets", f"/tweets/{bob_tweet}"):
        _refused(_get(client, path, ada), "blocked", "you block")

    # Home: the retweet of the blocked user's tweet is gone, the quote shows it unavailable.
    tweets = {t["tweet_id"]: t for t in home(client, ada, limit=100)["tweets"]}
    assert bob_tweet not in tweets
    assert tweets[quote]["quoted_tweet"] == {"tweet_id": bob_tweet, "unavailable": True}
    # Cy's timeline, read by ada: the retweet left out, the quote unavailable.
    cy_page = {t["tweet_id"]: t for t in _ok(client, f"/users/{cy.user_id}/tweets", ada)["tweets"]}
    assert bob_tweet not in cy_page and cy_page[quote]["quoted_tweet"]["unavailable"] is True
    # Search, each way.
    assert _searched(client, word, ada) == [ada_tweet]
    assert _searched(client, word, bob) == [bob_tweet]
    # Conversations: the other's reply is left out.
    assert _tweet_ids(_ok(client, f"/tweets/{dee_tweet}/replies", ada)) == [replies[ada.user_id]]
    assert _tweet_ids(_ok(client, f"/tweets/{dee_tweet}/replies", bob)) == [replies[bob.user_id]]
    context = _ok(client, f"/tweets/{dee_tweet}/context", ada)
    assert [t["tweet_id"] for t in context["descendants"]] == [replies[ada.user_id]]
    # An ancestor of a user hidden from the reader shows unavailable.
    context = _ok(client, f"/tweets/{bob_reply}/context", bob)
    assert context["ancestors"] == [{"tweet_id": ada_tweet, "unavailable": True, "reply_to": None}]
    _refused(_get(client, f"/tweets/{bob_reply}/context", ada), "blocked", "you block")
    # Notifications: the blocked user's like and reply are gone, and the mentions timeline.
    assert not [n for n in _notified(client, ada) if bob.user_id in n[1]]
    assert bob_reply not in _tweet_ids(_ok(client, "/timeline/mentions", ada))
    # People lists and user search.
    assert _user_ids(_ok(client, f"/users/{dee.user_id}/followers", ada, limit=100)) == [
        ada.user_id
    ]
    assert _user_ids(_ok(client, f"/users/{dee.user_id}/followers", bob, limit=100)) == [
        bob.user_id
    ]
    likes = _ok(client, f"/tweets/{dee_tweet}/likes", ada)
    assert [u["id"] for u in likes["first_likers"]] == [ada.user_id] and likes["like_count"] == 2
    assert bob.user_id not in _user_ids(_ok(client, "/users/search", ada, q=bob.username))

    # A third user sees everything, as before.
    assert sorted(_searched(client, word, dee)) == sorted([ada_tweet, bob_tweet])
    assert len(_tweet_ids(_ok(client, f"/tweets/{dee_tweet}/replies", dee))) == 2
    assert sorted(_user_ids(_ok(client, f"/users/{dee.user_id}/followers", dee))) == sorted(
        [ada.user_id, bob.user_id]
    )
    assert _get(client, f"/users/{ada.user_id}/tweets", dee).status_code == 200
    assert _get(client, f"/tweets/{bob_tweet}").status_code == 200  # anonymous

    # Unblocking shows them again on the next read (the follows it ended stay ended).
    _act(client, ada, "DELETE", f"/users/{bob.user_id}/block")
    home(client, ada)
    assert _get(client, f"/users/{ada.user_id}/tweets", bob).status_code == 200
    assert _get(client, f"/tweets/{bob_tweet}", ada).status_code == 200
    assert bob_tweet in home_ids(client, ada)  # cy's retweet again


def test_a_mute_hides_only_from_the_home_timeline_and_notifications(client):
    ada, mo, cy = (register(client, p) for p in ("ada", "mo", "cy"))
    for followee in (mo, cy):
        follow(client, ada, followee)
    mine = post(client, ada, "ada's own")
    muted_tweet = post(client, mo, "mo talks")
    _act(client, cy, "POST", f"/tweets/{muted_tweet}/retweet")
    _act(client, mo, "POST", f"/tweets/{mine}/like")
    mo_reply = post(client, mo, f"@{ada.username} hello", reply_to=mine)
    cy_tweet = post(client, cy, "cy talks")
    home(client, mo)
    home(client, cy)
    assert eventually(lambda: ("like", [mo.user_id]) in _notified(client, ada), timeout=10)

    _act(client, ada, "POST", f"/users/{mo.user_id}/mute")
    shown = home_ids(client, ada)
    assert muted_tweet not in shown and mo_reply not in shown  # the tweet and cy's retweet
    assert cy_tweet in shown and mine in shown
    assert not [n for n in _notified(client, ada) if mo.user_id in n[1]]
    assert mo_reply not in _tweet_ids(_ok(client, "/timeline/mentions", ada))
    # Everything else still shows the muted user.
    assert muted_tweet in _tweet_ids(_ok(client, f"/users/{mo.user_id}/tweets", ada))
    assert muted_tweet in _tweet_ids(_ok(client, f"/users/{cy.user_id}/tweets", ada))
    assert _get(client, f"/tweets/{muted_tweet}", ada).status_code == 200
    assert _tweet_ids(_ok(client, f"/tweets/{mine}/replies", ada)) == [mo_reply]
    # Nobody else's home changes.
    assert muted_tweet in home_ids(client, cy)

    _act(client, ada, "DELETE", f"/users/{mo.user_id}/mute")
    assert muted_tweet in home_ids(client, ada)
    assert ("like", [mo.user_id]) in _notified(client, ada)


def test_a_protected_accounts_tweets_show_only_to_its_approved_followers(client):
    owner, fan, stranger = (register(client, p) for p in ("prot", "fan", "str"))
    word = _word()
    early = post(client, owner, f"said in the open {word}")
    follow(client, fan, owner)
    follow(client, stranger, fan)
    quote = post(client, fan, "quoting the owner", quote_of=early)
    _act(client, fan, "POST", f"/tweets/{early}/retweet")
    _act(client, owner, "PATCH", "/users/me", json={"protected": True})
    later = post(client, owner, f"said while protected {word}")
    home(client, fan)
    home(client, owner)  # the protection applied
    assert eventually(lambda: len(_searched(client, word, owner)) == 2, timeout=15)

    # Others, signed in or not: 403 on the timeline and the tweets; the profile shows.
    for reader in (stranger, None):
        for path in (
            f"/users/{owner.user_id}/tweets",
            f"/tweets/{later}",
            f"/tweets/{early}",
            f"/tweets/{early}/replies",
            f"/tweets/{later}/context",
        ):
            _refused(_get(client, path, reader), "protected", owner.user_id)
        assert _ok(client, f"/users/{owner.user_id}", reader)["protected"] is True
        assert _searched(client, word, reader) == []
        # The fan's quote shows the owner's tweet unavailable, the fan's retweet is left out.
        page = {
            t["tweet_id"]: t for t in _ok(client, f"/users/{fan.user_id}/tweets", reader)["tweets"]
        }
        assert early not in page and page[quote]["quoted_tweet"]["unavailable"] is True
    tweets = {t["tweet_id"]: t for t in home(client, stranger)["tweets"]}
    assert early not in tweets and tweets[quote]["quoted_tweet"]["unavailable"] is True

    # The owner and the approved follower see it all.
    for reader in (owner, fan):
        assert set(_tweet_ids(_ok(client, f"/users/{owner.user_id}/tweets", reader))) >= {
            early,
            later,
        }
        assert _ok(client, f"/tweets/{later}", reader)["tweet_id"] == later
        assert sorted(_searched(client, word, reader)) == sorted([early, later])
        page = {
            t["tweet_id"]: t for t in _ok(client, f"/users/{fan.user_id}/tweets", reader)["tweets"]
        }
        assert page[quote]["quoted_tweet"]["tweet_id"] == early and early in page

    # Protection turned off takes effect on the next read.
    _act(client, owner, "PATCH", "/users/me", json={"protected": False})
    home(client, owner)
    assert _ok(client, f"/tweets/{later}", stranger)["tweet_id"] == later
    assert early in home_ids(client, stranger)
    assert eventually(lambda: len(_searched(client, word, None)) == 2, timeout=5)
