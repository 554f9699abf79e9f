"""Notifications and the mentions timeline, through the API on the real stack: likes of one
tweet grouped with the newest actor first, undos and deletions taking away what they caused,
mentions resolved (unknown names notify no one), unread counts and marking read, filters and
paging."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.clients import User, eventually, follow, post, register


def _notifications(client: httpx.Client, user: User, **params) -> dict:
    response = client.get("/api/v1/notifications", headers=user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _unread(client: httpx.Client, user: User) -> int:
    response = client.get("/api/v1/notifications/unread_count", headers=user.auth)
    assert response.status_code == 200, response.text
    return response.json()["unread_count"]


def _types(client: httpx.Client, user: User) -> list[tuple[str, str | None, int]]:
    """(type, tweet id, actor count) of each notification, newest first."""
    return [
        (n["type"], n["tweet"]["tweet_id"] if n["tweet"] else None, n["actor_count"])
        for n in _notifications(client, user)["notifications"]
    ]


def test_fifty_likes_of_one_tweet_make_one_group_with_the_newest_liker_first(api_url, client):
    author = register(client, "star")
    tweet_id = post(client, author, "like this")
    fans = [register(client, "fan") for _ in range(50)]

    def like(fan: User) -> None:
        with httpx.Client(base_url=api_url, timeout=30) as own:
            response = own.post(f"/api/v1/tweets/{tweet_id}/like", headers=fan.auth)
            assert response.status_code == 200, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(like, fans[:-1]))
    like(fans[-1])  # the newest, surely

    def grouped():
        found = _notifications(client, author, types="like")["notifications"]
        return found if found and found[0]["actor_count"] == 50 else None

    [group] = eventually(grouped, timeout=10)
    assert group["type"] == "like" and group["tweet"]["tweet_id"] == tweet_id
    assert group["tweet"]["like_count"] == 50
    assert group["actors"][0]["id"] == fans[-1].user_id and len(group["actors"]) == 3
    assert group["read"] is False and group["created_at"].endswith("Z")

    # An unlike takes its actor out: the newest liker's unlike makes the one before newest.
    response = client.delete(f"/api/v1/tweets/{tweet_id}/like", headers=fans[-1].auth)
    assert response.status_code == 200
    [group] = eventually(
        lambda: [
            n
            for n in _notifications(client, author, types="like")["notifications"]
            if n["actor_count"] == 49
        ],
        timeout=10,
    )
    assert fans[-1].user_id not in [actor["id"] for actor in group["actors"]]

    # Deleting the liked tweet takes the whole group away.
    assert client.delete(f"/api/v1/tweets/{tweet_id}", headers=author.auth).status_code == 204
    assert eventually(lambda: _types(client, author) == [], timeout=10)


def test_replies_mentions_quotes_and_follows_notify_and_their_undoing_takes_them_away(client):
    ada, bob, cy = register(client, "ada"), register(client, "bob"), register(client, "cy")
    original = post(client, ada, "first")
    reply = post(client, bob, f"@{ada.username} answers, and @{cy.username} too", reply_to=original)
    quote = post(client, cy, "look", quote_of=original)
    unknown = post(client, bob, "hello @nobody_here_x and @qq")  # no such users
    follow(client, bob, ada)

    expected_ada = [("follow", None, 1), ("quote", quote, 1), ("reply", reply, 1)]
    assert eventually(lambda: _types(client, ada) == expected_ada, timeout=10), _types(client, ada)
    # cy is mentioned in bob's reply; ada, replied to, gets a reply and not a mention too.
    assert eventually(lambda: _types(client, cy) == [("mention", reply, 1)], timeout=10)
    assert _types(client, bob) == []  # nobody is notified of their own, nor of unknown names
    mentions = client.get("/api/v1/timeline/mentions", headers=ada.auth).json()
    assert [t["tweet_id"] for t in mentions["tweets"]] == [quote, reply]
    assert unknown not in str(_notifications(client, ada))

    # The type filter, and paging one at a time.
    assert [
        n["type"] for n in _notifications(client, ada, types="reply,follow")["notifications"]
    ] == [
        "follow",
        "reply",
    ]
    first = _notifications(client, ada, limit=1)
    second = _notifications(client, ada, limit=1, cursor=first["next_cursor"])
    assert [first["notifications"][0]["type"], second["notifications"][0]["type"]] == [
        "follow",
        "quote",
    ]

    # A new display name shows in the notifications bob is in, once applied.
    renamed = client.patch("/api/v1/users/me", headers=bob.auth, json={"display_name": "Bobby"})
    assert renamed.status_code == 200, renamed.text

    def bob_names() -> set[str]:
        return {
            actor["display_name"]
            for n in _notifications(client, ada)["notifications"]
            for actor in n["actors"]
            if actor["id"] == bob.user_id
        }

    assert eventually(lambda: bob_names() == {"Bobby"}, timeout=5), bob_names()

    # Undone: the unfollow and the deleted reply take theirs away (cy's mention too).
    assert client.delete(f"/api/v1/users/{ada.user_id}/follow", headers=bob.auth).status_code == 200
    assert client.delete(f"/api/v1/tweets/{reply}", headers=bob.auth).status_code == 204
    assert eventually(lambda: _types(client, ada) == [("quote", quote, 1)], timeout=10)
    assert eventually(lambda: _types(client, cy) == [], timeout=10)


def test_marking_read_drops_the_unread_count_and_a_later_notification_counts_again(client):
    ada, bob = register(client, "read"), register(client, "rbob")
    for n in range(3):
        post(client, bob, f"@{ada.username} number {n}")
    assert eventually(lambda: _unread(client, ada) == 3, timeout=10)
    page = _notifications(client, ada)["notifications"]
    assert [n["read"] for n in page] == [False] * 3

    # Read up to the second newest: the newest stays unread; the reader's next read shows it.
    response = client.post(
        "/api/v1/notifications/read", headers=ada.auth, json={"up_to": page[1]["latest_id"]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"up_to": page[1]["latest_id"]}
    assert _unread(client, ada) == 1
    assert [n["read"] for n in _notifications(client, ada)["notifications"]] == [False, True, True]

    # Everything, then something new.
    assert client.post("/api/v1/notifications/read", headers=ada.auth, json={}).status_code == 200
    assert _unread(client, ada) == 0
    follow(client, bob, ada)
    assert eventually(lambda: _unread(client, ada) == 1, timeout=10)
