"""People through the API, on the real stack: your own profile and its edits, shown at once
wherever the user is rendered; lookup by username; user search; who to follow."""

from __future__ import annotations

import uuid

from schemas import events as ev
from tests.support.clients import eventually, follow, home, post, register


def _me(client, user) -> dict:
    response = client.get("/api/v1/users/me", headers=user.auth)
    assert response.status_code == 200, response.text
    return response.json()


def _edit(client, user, **fields) -> dict:
    response = client.patch("/api/v1/users/me", headers=user.auth, json=fields)
    assert response.status_code == 200, response.text
    return response.json()


def _word() -> str:
    """A made-up name word no other test uses."""
    return "Qx" + uuid.uuid4().hex[:8]


def _found(client, q: str, reader=None, **params) -> dict:
    response = client.get(
        "/api/v1/users/search",
        params={"q": q, **params},
        headers=reader.auth if reader else {},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _found_ids(client, q: str, reader=None) -> list[str]:
    return [user["id"] for user in _found(client, q, reader, limit=100)["users"]]


def test_a_new_name_shows_on_the_next_read_of_every_place_the_user_appears(client):
    author, fan = register(client, "ren"), register(client, "fan")
    follow(client, fan, author)
    word = _word()
    tweet = post(client, author, f"before the rename {word}")
    # Everything read once, so the old summary is cached where readers look.
    assert eventually(lambda: home(client, fan)["tweets"], timeout=5)
    assert eventually(lambda: _found_ids_of_tweets(client, word), timeout=5) == [tweet]
    new_name = f"Renamed {_word()}"

    answer = _edit(client, author, display_name=new_name)
    assert answer["display_name"] == new_name and answer["username"] == author.username

    # The author's next reads wait for the write (read-your-writes) ...
    hits = client.get("/api/v1/search", params={"q": word}, headers=author.auth).json()
    assert [hit["user"]["display_name"] for hit in hits["tweets"]] == [new_name]
    shown = client.get(f"/api/v1/tweets/{tweet}", headers=author.auth).json()
    assert shown["user"]["display_name"] == new_name
    profile = client.get(f"/api/v1/users/{author.user_id}", headers=author.auth).json()
    assert profile["display_name"] == new_name
    assert _me(client, author)["display_name"] == new_name
    # ... after which the cached summary is the new one for everyone, with no wait.
    [entry] = home(client, fan)["tweets"]
    assert entry["user"]["display_name"] == new_name


def _found_ids_of_tweets(client, word: str) -> list[str]:
    response = client.get("/api/v1/search", params={"q": word})
    return [tweet["tweet_id"] for tweet in response.json()["tweets"]]


def test_profile_fields_are_edited_cleared_and_a_no_change_edit_records_nothing(client, event_log):
    user = register(client, "prof")
    me = _me(client, user)
    assert (me["bio"], me["location"], me["website"]) == ("", "", "")
    assert me["user_id"] == user.user_id and me["followers_count"] == 0

    edited = _edit(
        client, user, bio="Counts things", location="Paris", website="https://example.com/me"
    )
    assert (edited["bio"], edited["location"], edited["website"]) == (
        "Counts things",
        "Paris",
        "https://example.com/me",
    )
    assert _me(client, user) == edited
    public = client.get(f"/api/v1/users/{user.user_id}", headers=user.auth).json()
    assert public == edited

    # The same values again, and nothing at all: no change, no event; the profile answers.
    assert _edit(client, user, bio="Counts things", location="Paris") == edited
    assert _edit(client, user) == edited
    cleared = _edit(client, user, website="", location="Lyon")
    assert (cleared["website"], cleared["location"], cleared["bio"]) == (
        "",
        "Lyon",
        "Counts things",
    )
    assert _me(client, user) == cleared

    def edits():
        return [e for e in event_log.by_actor(user.id) if isinstance(e, ev.ProfileUpdated)]

    assert eventually(lambda: len(edits()) >= 2, timeout=10)
    first, second = edits()
    assert (first.bio, first.location, first.website, first.display_name) == (
        "Counts things",
        "Paris",
        "https://example.com/me",
        None,
    )
    assert (second.website, second.location, second.bio) == ("", "Lyon", None)


def test_lookup_by_username_finds_a_user_registered_a_moment_ago_in_any_case(client):
    reader = register(client, "look")
    user = register(client, "Look")

    def lookup(name: str):
        return client.get(f"/api/v1/users/by/username/{name}", headers=reader.auth)

    assert eventually(lambda: lookup(user.username.upper()).status_code == 200, timeout=1.0)
    found = lookup(user.username.lower()).json()
    assert (found["user_id"], found["username"]) == (user.user_id, user.username)
    missing = lookup("nobody_at_all_9")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_user_search_finds_a_new_user_within_a_second_by_prefix_and_with_a_typo(client):
    user = register(client, "srchu")
    assert eventually(lambda: user.user_id in _found_ids(client, user.username[:6]), timeout=1.0)
    name = "Quokka" + uuid.uuid4().hex[:6]
    _edit(client, user, display_name=f"Marguerite {name}")
    typo = name[:3] + name[4] + name[3] + name[5:]  # two letters swapped: one edit
    assert eventually(lambda: _found_ids(client, typo) == [user.user_id], timeout=1.0)
    [hit] = _found(client, f"margue {name.lower()}", user)["users"]
    assert hit == {
        "id": user.user_id,
        "username": user.username,
        "display_name": f"Marguerite {name}",
    }


def test_user_search_ranks_by_followers_then_by_the_text_and_pages(client):
    word = _word()
    users = [register(client, "rank") for _ in range(4)]
    # users[3] matches exactly; the others by prefix; followers make the order.
    for index, user in enumerate(users):
        _edit(client, user, display_name=f"{word}{'' if index == 3 else 'abc'} Person")
    fans = [register(client, "rfan") for _ in range(3)]
    for fan in fans:
        follow(client, fan, users[1])
    for fan in fans[:2]:
        follow(client, fan, users[2])
    expected = [users[1].user_id, users[2].user_id, users[3].user_id, users[0].user_id]
    assert eventually(lambda: _found_ids(client, word) == expected, timeout=5)
    first = _found(client, word, limit=2)
    second = _found(client, word, limit=2, cursor=first["next_cursor"])
    assert [u["id"] for u in first["users"] + second["users"]] == expected
    assert second["next_cursor"] is None


def test_who_to_follow_ranks_friends_of_friends_by_how_many_followees_follow_them(client):
    me, a, b, c, x, y, z = (register(client, "sug") for _ in range(7))
    for followee in (a, b, c):
        follow(client, me, followee)
    for follower, followees in ((a, [x, y, me, b]), (b, [x, y, z]), (c, [x])):
        for followee in followees:
            follow(client, follower, followee)
    expected = [(x.user_id, 3), (y.user_id, 2), (z.user_id, 1)]

    def suggestions() -> list[dict]:
        response = client.get("/api/v1/users/suggestions", headers=me.auth, params={"limit": 50})
        assert response.status_code == 200, response.text
        return response.json()["users"]

    # Others' follows: applied as the agents get to them.
    assert eventually(
        lambda: [(s["id"], s["followed_by_followees"]) for s in suggestions()[:3]] == expected,
        timeout=5,
    )
    suggested = suggestions()
    # Never yourself or someone you follow; the rest of the page: most-followed users.
    ids = [s["id"] for s in suggested]
    assert not {me.user_id, a.user_id, b.user_id, c.user_id} & set(ids)
    rest = suggested[3:]
    assert all(s["followed_by_followees"] == 0 for s in rest)
    counts = [s["followers_count"] for s in rest]
    assert counts == sorted(counts, reverse=True)


def test_who_to_follow_for_someone_who_follows_nobody_is_the_most_followed_users(client):
    loner, star = register(client, "lone"), register(client, "star")
    for fan in (register(client, "sfan") for _ in range(2)):
        follow(client, fan, star)
    suggested = client.get("/api/v1/users/suggestions", headers=loner.auth).json()["users"]
    assert suggested and all(s["followed_by_followees"] == 0 for s in suggested)
    counts = [s["followers_count"] for s in suggested]
    assert counts == sorted(counts, reverse=True) and min(counts) > 0
    assert loner.user_id not in [s["id"] for s in suggested]
    assert client.get("/api/v1/users/suggestions").status_code == 401
