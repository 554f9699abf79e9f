"""Protected accounts through the API, on the real stack: a follow waits as a request until
the owner approves or declines it; withdrawing, blocking and turning protection off
(docs/safety.md)."""

from __future__ import annotations

from schemas import events as ev
from tests.support.clients import eventually, register
from tests.support.read_models import all_pages


def _act(client, user, method: str, path: str, **extra):
    return client.request(method, f"/api/v1{path}", headers=user.auth, **extra)


def _requests(client, owner) -> list[str]:
    response = _act(client, owner, "GET", "/follow_requests", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [user["id"] for user in response.json()["users"]]


def _followers(client, user) -> list[str]:
    response = client.get(f"/api/v1/users/{user.user_id}/followers", params={"limit": 100})
    return [found["id"] for found in response.json()["users"]]


def _protect(client, user, protected: bool) -> dict:
    response = _act(client, user, "PATCH", "/users/me", json={"protected": protected})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_protected_account_approves_and_declines_its_followers(client, event_log):
    owner = register(client, "prot")
    fan, stranger, quitter = register(client, "fan"), register(client, "str"), register(client, "q")
    assert _protect(client, owner, True)["protected"] is True
    profile = _act(client, owner, "GET", f"/users/{owner.user_id}")  # waits for the edit
    assert profile.json()["protected"] is True
    # Protecting again changes nothing and records nothing.
    _protect(client, owner, True)
    assert len([e for e in event_log.by_actor(owner.id) if isinstance(e, ev.ProfileUpdated)]) == 1

    for user in (fan, stranger, quitter):
        answer = _act(client, user, "POST", f"/users/{owner.user_id}/follow")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"user_id": owner.user_id, "following": False, "requested": True}
    # Asking twice is one request.
    assert _act(client, fan, "POST", f"/users/{owner.user_id}/follow").json()["requested"]
    assert len([e for e in event_log.by_actor(fan.id) if isinstance(e, ev.FollowRequested)]) == 1
    assert eventually(
        lambda: _requests(client, owner) == sorted([fan.user_id, stranger.user_id,
                                                    quitter.user_id], key=int),
        timeout=10,
    )  # fmt: skip
    assert _followers(client, owner) == []

    # Withdrawn by the requester.
    assert _act(client, quitter, "DELETE", f"/users/{owner.user_id}/follow").status_code == 200
    approved = _act(client, owner, "POST", f"/follow_requests/{fan.user_id}/authorize")
    assert approved.json() == {"user_id": fan.user_id, "approved": True}
    declined = _act(client, owner, "POST", f"/follow_requests/{stranger.user_id}/reject")
    assert declined.json() == {"user_id": stranger.user_id, "approved": False}
    assert _requests(client, owner) == []
    assert _followers(client, owner) == [fan.user_id]
    # Answering again, or a request never made: 404, nothing recorded.
    for user in (fan, stranger, quitter, owner):
        again = _act(client, owner, "POST", f"/follow_requests/{user.user_id}/authorize")
        assert again.status_code == 404
        assert again.headers["content-type"].startswith("application/problem+json")
    [follow] = [e for e in event_log.by_actor(owner.id) if isinstance(e, ev.UserFollowed)]
    assert (follow.follower_id, follow.followee_id) == (fan.id, owner.id)


def test_a_block_closes_a_request_and_an_open_account_is_followed_at_once(client):
    owner, fan, other = register(client, "prot"), register(client, "fan"), register(client, "o")
    _protect(client, owner, True)
    for user in (fan, other):
        assert _act(client, user, "POST", f"/users/{owner.user_id}/follow").json()["requested"]
    assert _act(client, owner, "POST", f"/users/{fan.user_id}/block").status_code == 200
    assert _requests(client, owner) == [other.user_id]
    assert (
        _act(client, owner, "POST", f"/follow_requests/{fan.user_id}/authorize").status_code == 404
    )

    assert _protect(client, owner, False)["protected"] is False
    latecomer = register(client, "late")
    answer = _act(client, latecomer, "POST", f"/users/{owner.user_id}/follow").json()
    assert answer == {"user_id": owner.user_id, "following": True, "requested": False}
    # A request made while protected still waits for an answer.
    assert _requests(client, owner) == [other.user_id]


def test_a_protected_accounts_tweets_are_not_retweeted_or_quoted_by_others(client):
    owner, fan = register(client, "prot"), register(client, "fan")
    _protect(client, owner, True)
    _act(client, fan, "POST", f"/users/{owner.user_id}/follow")
    _act(client, owner, "POST", f"/follow_requests/{fan.user_id}/authorize")
    posted = _act(client, owner, "POST", "/tweets", json={"content": "for my followers only"})
    tweet_id = posted.json()["tweet_id"]

    # Even an approved follower may not spread it: 403, nothing recorded.
    retweet = _act(client, fan, "POST", f"/tweets/{tweet_id}/retweet")
    quote = _act(client, fan, "POST", "/tweets", json={"content": "look", "quote_of": tweet_id})
    for refused in (retweet, quote):
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "urn:chirp:problem:protected-tweet"
    # Liking and replying stay open to followers; the author retweets their own tweet.
    assert _act(client, fan, "POST", f"/tweets/{tweet_id}/like").status_code == 200
    reply = _act(client, fan, "POST", "/tweets", json={"content": "nice", "reply_to": tweet_id})
    assert reply.status_code == 201, reply.text
    assert _act(client, owner, "POST", f"/tweets/{tweet_id}/retweet").status_code == 200
    # Once the account is open again, anyone may.
    _protect(client, owner, False)
    assert _act(client, fan, "POST", f"/tweets/{tweet_id}/retweet").status_code == 200


def test_a_follower_who_asks_again_and_unfollows_is_no_longer_a_follower(client):
    owner, fan = register(client, "prot"), register(client, "fan")
    _protect(client, owner, True)
    _act(client, fan, "POST", f"/users/{owner.user_id}/follow")
    _act(client, owner, "POST", f"/follow_requests/{fan.user_id}/authorize")
    assert eventually(lambda: _followers(client, owner) == [fan.user_id], timeout=10)
    # The write model does not know follows: asking again makes a request ...
    assert _act(client, fan, "POST", f"/users/{owner.user_id}/follow").json()["requested"]
    assert eventually(lambda: _requests(client, owner) == [fan.user_id], timeout=10)
    # ... and one unfollow both withdraws it and ends the follow.
    answer = _act(client, fan, "DELETE", f"/users/{owner.user_id}/follow")
    assert answer.json() == {"user_id": owner.user_id, "following": False, "requested": False}
    assert eventually(
        lambda: _requests(client, owner) == [] and _followers(client, owner) == [], timeout=10
    )


def _asking(client, owner) -> list[str]:
    groups = all_pages(client, "/api/v1/notifications", owner, types="follow_request")
    return sorted((actor["id"] for group in groups for actor in group["actors"]), key=int)


def test_a_follow_request_notifies_the_owner_until_it_is_answered(client):
    owner, fan, stranger = register(client, "nrq"), register(client, "nfa"), register(client, "nst")
    _protect(client, owner, True)
    for user in (fan, stranger):
        assert _act(client, user, "POST", f"/users/{owner.user_id}/follow").json()["requested"]
    asking = sorted([fan.user_id, stranger.user_id], key=int)
    assert eventually(lambda: _asking(client, owner) == asking, timeout=10)
    [group] = all_pages(client, "/api/v1/notifications", owner, types="follow_request")
    assert (group["type"], group["tweet"]) == ("follow_request", None)

    _act(client, owner, "POST", f"/follow_requests/{fan.user_id}/authorize")
    assert eventually(lambda: _asking(client, owner) == [stranger.user_id], timeout=10)
    follows = all_pages(client, "/api/v1/notifications", owner, types="follow")
    assert [actor["id"] for group in follows for actor in group["actors"]] == [fan.user_id]
    _act(client, owner, "POST", f"/follow_requests/{stranger.user_id}/reject")
    assert eventually(lambda: _asking(client, owner) == [], timeout=10)
