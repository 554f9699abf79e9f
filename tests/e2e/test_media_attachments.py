"""Tweets carry media (docs/media.md): attached by their uploader, at most 4, each once;
rendered in every tweet object with public renditions and alt text; their files removed a
grace period after the tweet is deleted, and uploads never attached expire."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from infra.redis_clients import sync_redis
from projections.redis_keys import RedisKeys
from schemas import events as ev
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import User, eventually, follow, home, post, register
from tests.support.images import jpeg, png
from tests.support.media import start, uploaded_id


def events_of(event_log, user: User, kind: type) -> list:
    event_log.sync()
    return [e for e in event_log.by_actor(user.id) if isinstance(e, kind)]


def files_of(stack, media_id: str) -> list[Path]:
    """Every file the embedded store holds of an upload (original and renditions)."""
    root = stack.settings.media_directory
    return [p for p in (root / "media" / media_id).glob("*")] + [
        p for p in (root / "public" / "media" / media_id).rglob("*") if p.is_file()
    ]


def shown(client, reader: User, tweet_id: str, ready=lambda media: True) -> dict | None:
    """The tweet in the reader's home timeline once its media are processed and `ready`."""
    for tweet in home(client, reader)["tweets"]:
        if tweet["tweet_id"] == tweet_id and tweet["media"]:
            media = tweet["media"]
            if all(not m["processing"] for m in media) and ready(media):
                return tweet
    return None


def test_a_tweet_with_four_images_renders_them_in_a_followers_timeline(client, stack):
    author, reader = register(client, "four"), register(client, "fan")
    follow(client, reader, author)
    sizes = [(800, 600), (600, 800), (3000, 1000), (640, 640)]
    ids = [uploaded_id(client, author, jpeg(w, h)) for w, h in sizes]
    described = client.patch(
        f"/api/v1/media/{ids[0]}", headers=author.auth, json={"alt_text": "a grey gradient"}
    )
    assert described.status_code == 200, described.text
    assert described.json() == {"media_id": ids[0], "alt_text": "a grey gradient"}
    tweet_id = post(client, author, "four pictures", media_ids=ids)

    tweet = eventually(
        lambda: shown(client, reader, tweet_id, lambda m: m[0]["alt_text"] == "a grey gradient"),
        timeout=30,
    )
    assert tweet, "the follower never saw the four processed images"
    media = tweet["media"]
    assert [m["media_id"] for m in media] == ids  # in the order attached
    assert [m["alt_text"] for m in media] == ["a grey gradient", "", "", ""]
    assert [(m["width"], m["height"]) for m in media] == [
        (800, 600),
        (600, 800),
        (2048, 683),  # the large rendition: at most 2,048 px a side
        (640, 640),
    ]
    for item in media:
        assert item["type"] == "image"
        for field, bound in (("url", 2048), ("preview_url", 680), ("thumb_url", 150)):
            # Relative to the API's origin (CHIRP_PUBLIC_URL unset): the embedded store's.
            assert item[field].startswith("/api/v1/objects/public/media/")
            served = client.get(item[field])
            assert served.status_code == 200, (field, served.text)
            image = Image.open(io.BytesIO(served.content))
            assert image.format == "WEBP" and max(image.size) <= bound
            assert not image.getexif()
    # Every rendering carries them: the tweet alone, the author's timeline, a search...
    alone = client.get(f"/api/v1/tweets/{tweet_id}", headers=reader.auth).json()
    assert alone["media"] == media
    profile = client.get(f"/api/v1/users/{author.id}/tweets", headers=reader.auth).json()
    assert profile["tweets"][0]["media"] == media
    # ...and the page read after the tweet left the cache (the stores' path) is the same.
    with sync_redis(stack.settings) as cache:
        # Whichever generation serves now (a replay test may have switched it).
        assert cache.delete(*cache.keys(f"*{RedisKeys('').tweet(tweet_id)}")) >= 1
    assert shown(client, reader, tweet_id) == tweet


def test_attaching_what_is_not_yours_to_attach_is_refused_and_records_nothing(client, event_log):
    owner, other = register(client, "own"), register(client, "oth")
    mine = [uploaded_id(client, owner, png(40 + n, 40)) for n in range(5)]
    theirs = uploaded_id(client, other, png())
    reserved = start(client, owner, "image/png", 1000)["media_id"]  # never completed
    refused = [
        ([theirs], 403, "not-your-media"),
        (mine, 422, "validation-error"),  # a fifth attachment
        ([mine[0], mine[0]], 422, "validation-error"),
        ([reserved], 422, "media-not-uploaded"),
        (["4242"], 404, "not-found"),
        (["../../etc/passwd"], 422, "validation-error"),
        ([int(mine[0])], 422, "validation-error"),  # a JSON number: ids are strings
    ]
    for media_ids, status, problem in refused:
        answer = client.post(
            "/api/v1/tweets", headers=owner.auth, json={"content": "x", "media_ids": media_ids}
        )
        assert answer.status_code == status, (media_ids, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == f"urn:chirp:problem:{problem}", media_ids
    assert events_of(event_log, owner, ev.TweetPosted) == []

    post(client, owner, "one of mine", media_ids=mine[:4])
    again = client.post(
        "/api/v1/tweets", headers=owner.auth, json={"content": "again", "media_ids": [mine[1]]}
    )
    assert again.status_code == 409 and again.json()["type"] == "urn:chirp:problem:media-attached"
    [posted] = events_of(event_log, owner, ev.TweetPosted)
    assert [str(m) for m in posted.media_ids] == mine[:4]


def test_alt_text_is_the_uploaders_to_set_and_bounded(client):
    owner, other = register(client, "alt"), register(client, "nosy")
    media_id = uploaded_id(client, owner, png())
    path = f"/api/v1/media/{media_id}"
    too_long = client.patch(path, headers=owner.auth, json={"alt_text": "x" * 1001})
    assert too_long.status_code == 422
    assert client.patch(path, headers=other.auth, json={"alt_text": "mine"}).status_code == 403
    assert (
        client.patch("/api/v1/media/4242", headers=owner.auth, json={"alt_text": "?"}).status_code
        == 404
    )
    assert client.patch(path, json={"alt_text": "anyone"}).status_code == 401
    longest = client.patch(path, headers=owner.auth, json={"alt_text": "é" * 1000})
    assert longest.status_code == 200, longest.text


def test_a_deleted_tweets_media_are_removed_after_the_grace_period(client, stack, event_log):
    author = register(client, "gone")
    media_id = uploaded_id(client, author, jpeg())
    assert eventually(lambda: events_of(event_log, author, ev.MediaProcessed), timeout=30)
    tweet_id = post(client, author, "soon gone", media_ids=[media_id])
    before = files_of(stack, media_id)
    assert len(before) == 4  # the original, thumb, small, large
    public = [p for p in before if "public" in p.parts]
    url = f"/api/v1/objects/{public[0].relative_to(stack.settings.media_directory)}"
    assert client.get(url).status_code == 200

    assert client.delete(f"/api/v1/tweets/{tweet_id}", headers=author.auth).status_code == 204
    assert eventually(lambda: not files_of(stack, media_id), timeout=30), "files left behind"
    assert client.get(url).status_code == 404
    [deleted] = events_of(event_log, author, ev.TweetDeleted)
    [removed] = events_of(event_log, author, ev.MediaDeleted)
    assert (str(removed.media_id), removed.reason) == (media_id, "tweet-deleted")
    grace = float(TEST_SETTINGS["CHIRP_MEDIA_DELETE_GRACE_SECONDS"])
    assert (removed.occurred_at - deleted.occurred_at).total_seconds() >= grace


def test_the_original_is_never_served_without_a_signature(client, stack):
    author = register(client, "orig")
    media_id = uploaded_id(client, author, jpeg())
    answer = client.get(f"/api/v1/objects/media/{media_id}/original")
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    # Stepping out of public/ (however spelt) reaches a private key or none: never served.
    for traversal in (f"public/../media/{media_id}/original", "public/%2e%2e/media/1/original"):
        assert client.get(f"/api/v1/objects/{traversal}").status_code in (400, 403, 404)


@pytest.fixture
def expiring(stack, agents):
    """An API process whose uploads expire two seconds after they are reserved; stopped
    after the test, so the suite's other uploads keep the default day."""
    base_url = stack.start_api(
        **TEST_PASSWORD_COST,
        **TEST_SETTINGS,
        CHIRP_MEDIA_ORPHAN_SECONDS="2",
    )
    process = stack.processes[-1]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
    process.stop()


def test_an_upload_never_attached_expires_with_its_files(expiring, stack, event_log):
    client = expiring
    owner = register(client, "orphan")
    media_id = uploaded_id(client, owner, jpeg())
    assert eventually(lambda: events_of(event_log, owner, ev.MediaDeleted), timeout=30)
    [removed] = events_of(event_log, owner, ev.MediaDeleted)
    assert (str(removed.media_id), removed.reason) == (media_id, "expired")
    assert eventually(lambda: not files_of(stack, media_id), timeout=30)
    late = client.post(
        "/api/v1/tweets", headers=owner.auth, json={"content": "too late", "media_ids": [media_id]}
    )
    assert late.status_code == 404, late.text
    assert events_of(event_log, owner, ev.TweetPosted) == []
