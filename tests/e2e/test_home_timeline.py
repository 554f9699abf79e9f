"""The home timeline through the API, on the real stack (broker, agents, Redis, PostgreSQL)."""

from __future__ import annotations

import re
import threading

from tests.support.clients import eventually, follow, home, home_ids, post, register

# Other readers are eventually consistent; the design's target is 1 s at p99, seeds allow 5.
VISIBLE_WITHIN = 5.0


def test_a_followed_users_tweet_reaches_the_follower(client):
    alice, bob = register(client, "al"), register(client, "bo")
    follow(client, alice, bob)
    tweet_id = post(client, bob, "hello followers")
    assert eventually(lambda: tweet_id in home_ids(client, alice), VISIBLE_WITHIN)
    [tweet] = [t for t in home(client, alice)["tweets"] if t["tweet_id"] == tweet_id]
    assert tweet["user"] == {
        "id": bob.user_id,
        "username": bob.username,
        "display_name": f"Test {bob.username}",
    }
    assert tweet["content"] == "hello followers" and tweet["retweeted_by"] is None


def test_the_author_sees_a_new_tweet_on_the_very_next_read(client):
    author = register(client, "me")
    for n in range(5):
        tweet_id = post(client, author, f"note to self {n}")
        assert home_ids(client, author)[0] == tweet_id
        mine = client.get(f"/api/v1/users/{author.user_id}/tweets", headers=author.auth).json()
        assert mine["tweets"][0]["tweet_id"] == tweet_id


def test_a_follow_shows_the_followees_recent_tweets_on_the_next_read(client):
    reader, writer = register(client, "rd"), register(client, "wr")
    home(client, reader)  # the reader has a cached timeline already
    earlier = [post(client, writer, f"before the follow {n}") for n in range(3)]
    home(client, writer)  # the writer's own read: their tweets are applied
    follow(client, reader, writer)
    assert set(earlier) <= set(home_ids(client, reader))


def test_an_unfollow_hides_the_authors_tweets_at_once(client):
    reader, writer = register(client, "ur"), register(client, "uw")
    follow(client, reader, writer)
    tweet_id = post(client, writer, "soon hidden")
    assert eventually(lambda: tweet_id in home_ids(client, reader), VISIBLE_WITHIN)
    assert (
        client.delete(f"/api/v1/users/{writer.user_id}/follow", headers=reader.auth).status_code
        == 200
    )
    assert tweet_id not in home_ids(client, reader)


def test_a_deleted_tweet_vanishes_from_every_read(client):
    reader, writer = register(client, "dr"), register(client, "dw")
    follow(client, reader, writer)
    parent = post(client, writer, "parent")
    doomed = post(client, writer, "delete me", reply_to=parent)
    assert eventually(lambda: doomed in home_ids(client, reader), VISIBLE_WITHIN)
    assert client.get(f"/api/v1/tweets/{parent}", headers=writer.auth).json()["reply_count"] == 1
    assert client.delete(f"/api/v1/tweets/{doomed}", headers=writer.auth).status_code == 204

    assert doomed not in home_ids(client, writer)
    assert client.get(f"/api/v1/tweets/{doomed}", headers=writer.auth).status_code == 404
    own = client.get(f"/api/v1/users/{writer.user_id}/tweets", headers=writer.auth).json()
    assert doomed not in [t["tweet_id"] for t in own["tweets"]]
    replies = client.get(f"/api/v1/tweets/{parent}/replies", headers=writer.auth).json()
    assert replies["tweets"] == []
    assert client.get(f"/api/v1/tweets/{parent}", headers=writer.auth).json()["reply_count"] == 0
    assert eventually(lambda: doomed not in home_ids(client, reader), VISIBLE_WITHIN)


def test_a_retweet_shows_once_with_its_retweeter_and_unretweet_removes_it(client):
    reader, retweeter, author = (
        register(client, "tr"),
        register(client, "tt"),
        register(client, "ta"),
    )
    follow(client, reader, retweeter)
    tweet_id = post(client, author, "worth sharing")
    for _ in range(2):  # retweeting twice is one retweet
        assert (
            client.post(f"/api/v1/tweets/{tweet_id}/retweet", headers=retweeter.auth).status_code
            == 200
        )

    def shown():
        return [t for t in home(client, reader)["tweets"] if t["tweet_id"] == tweet_id]

    assert eventually(shown, VISIBLE_WITHIN)
    [entry] = shown()
    assert entry["retweeted_by"]["id"] == retweeter.user_id
    assert entry["user"]["id"] == author.user_id and entry["retweet_count"] == 1
    mine = home(client, retweeter)["tweets"]
    assert [t["retweeted_by_me"] for t in mine if t["tweet_id"] == tweet_id] == [True]

    assert (
        client.delete(f"/api/v1/tweets/{tweet_id}/retweet", headers=retweeter.auth).status_code
        == 200
    )
    assert eventually(lambda: not shown(), VISIBLE_WITHIN)
    assert client.get(f"/api/v1/tweets/{tweet_id}").json()["retweet_count"] == 0


def test_likes_show_at_once_for_the_liker_and_count_once(client):
    liker, author = register(client, "lk"), register(client, "la")
    tweet_id = post(client, author, "like me")
    for _ in range(3):
        assert client.post(f"/api/v1/tweets/{tweet_id}/like", headers=liker.auth).status_code == 200
        tweet = client.get(f"/api/v1/tweets/{tweet_id}", headers=liker.auth).json()
        assert tweet["liked_by_me"] is True and tweet["like_count"] == 1
    likes = client.get(f"/api/v1/tweets/{tweet_id}/likes").json()
    assert likes["like_count"] == 1 and likes["first_likers"][0]["id"] == liker.user_id
    assert client.delete(f"/api/v1/tweets/{tweet_id}/like", headers=liker.auth).status_code == 200
    tweet = client.get(f"/api/v1/tweets/{tweet_id}", headers=liker.auth).json()
    assert tweet["liked_by_me"] is False and tweet["like_count"] == 0


def test_paging_300_tweets_returns_each_once_newest_first_while_new_ones_arrive(
    client, client_factory
):
    reader = register(client, "pg")
    authors = [register(client, "pa") for _ in range(3)]
    for author in authors:
        follow(client, reader, author)
    posted = [post(client, authors[n % 3], f"tweet number {n}") for n in range(300)]
    for author in authors:
        home(client, author)  # each author's read waits until their tweets are applied

    first = home(client, reader, limit=20)
    seen = [t["tweet_id"] for t in first["tweets"]]
    cursor = first["next_cursor"]
    stop = threading.Event()

    def keep_posting():
        with client_factory() as other:
            n = 0
            while not stop.is_set():
                post(other, authors[n % 3], f"arriving while paging {n}")
                n += 1

    writer = threading.Thread(target=keep_posting)
    writer.start()
    try:
        while cursor:
            page = home(client, reader, cursor=cursor, limit=20)
            assert len(page["tweets"]) <= 20
            seen += [t["tweet_id"] for t in page["tweets"]]
            cursor = page["next_cursor"]
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen)), "a tweet appeared twice"
    assert seen == sorted(posted, key=int, reverse=True)


def test_paging_past_the_cache_still_shows_older_retweets(client):
    from tests.conftest import HOME_TIMELINE_CAP

    reader, retweeter, writer, stranger = (register(client, p) for p in ("or", "ot", "ow", "os"))
    follow(client, reader, retweeter)
    follow(client, reader, writer)
    home(client, reader)  # the reader's timeline is cached from here on
    old = post(client, stranger, "an old tweet worth sharing")
    assert client.post(f"/api/v1/tweets/{old}/retweet", headers=retweeter.auth).status_code == 200
    home(client, retweeter)
    newer = [
        post(client, writer, f"pushes the retweet out of the cache {n}")
        for n in range(HOME_TIMELINE_CAP + 20)
    ]
    home(client, writer)

    seen, cursor = [], None
    while True:
        page = home(client, reader, cursor=cursor, limit=50)
        seen += [(t["tweet_id"], (t["retweeted_by"] or {}).get("id")) for t in page["tweets"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [tweet_id for tweet_id, _ in seen] == [*sorted(newer, key=int, reverse=True), old]
    assert seen[-1] == (old, retweeter.user_id)


def test_pull_to_refresh_pages_exactly_the_missed_tweets_newest_first(client):
    reader, writer = register(client, "pr"), register(client, "pw")
    follow(client, reader, writer)
    seen = [post(client, writer, f"seen {n}") for n in range(3)]
    assert eventually(lambda: home_ids(client, reader)[:3] == seen[::-1], VISIBLE_WITHIN)
    first = client.get("/api/v1/timeline/home", headers=reader.auth, params={"limit": 2})
    assert first.json()["prev_cursor"] is not None
    assert 'rel="next"' in first.headers["link"] and 'rel="prev"' in first.headers["link"]
    missed = [post(client, writer, f"missed {n}") for n in range(7)]
    assert eventually(lambda: home_ids(client, reader)[0] == missed[-1], VISIBLE_WITHIN)

    # Follow the rel="prev" link, then rel="next" links down to it, 3 at a time.
    url = _link(first.headers["link"], "prev").replace("limit=2", "limit=3")
    got, pages = [], 0
    while url:
        answer = client.get(url, headers=reader.auth)
        assert answer.status_code == 200
        got += [tweet["tweet_id"] for tweet in answer.json()["tweets"]]
        url, pages = _link(answer.headers.get("link", ""), "next"), pages + 1
        assert pages <= 4
    assert got == missed[::-1]

    # The newest page's prev_cursor: nothing newer yet, and an empty page keeps the bound.
    top = client.get("/api/v1/timeline/home", headers=reader.auth).json()
    empty = client.get(
        "/api/v1/timeline/home", headers=reader.auth, params={"since": top["prev_cursor"]}
    ).json()
    assert empty == {"tweets": [], "next_cursor": None, "prev_cursor": top["prev_cursor"]}
    bad = client.get("/api/v1/timeline/home", headers=reader.auth, params={"since": "x"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def _link(header: str, rel: str) -> str | None:
    """The URL of `rel` in a Link header, or None."""
    for part in header.split(","):
        if part.strip().endswith(f'rel="{rel}"'):
            return part.split(";")[0].strip()[1:-1]
    return None


def test_every_answer_writes_times_as_rfc3339_utc_with_z(client):
    author = register(client, "tz")
    posted = client.post(
        "/api/v1/tweets", json={"content": "what time is it"}, headers=author.auth
    ).json()
    stamps = {
        "post": posted["created_at"],
        # the author's own reads wait for the author's writes
        "tweet": client.get(f"/api/v1/tweets/{posted['tweet_id']}", headers=author.auth).json()[
            "created_at"
        ],
        "home": home(client, author)["tweets"][0]["created_at"],
        "profile": client.get(f"/api/v1/users/{author.user_id}", headers=author.auth).json()[
            "created_at"
        ],
    }
    for where, stamp in stamps.items():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), (where, stamp)
    assert stamps["post"] == stamps["tweet"] == stamps["home"]
