"""The media read model's plan of a batch (projections/media_plan.py) and the attachment
objects it renders (projections/media_attachments.py), with no server."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.media_attachments import StoredMedia, attachment
from projections.media_plan import plan_media
from schemas import events as ev

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def event(cls, n: int, **fields):
    return cls(event_id=n, occurred_at=NOW, actor_id=7, **fields)


def rendition(name: str, width: int | None = 10, height: int | None = 10) -> ev.Rendition:
    return ev.Rendition(
        name=name,
        key=f"public/media/1/t/{name}.webp",
        media_type="image/webp",
        width=width,
        height=height,
        byte_size=5,
    )


def test_each_kind_of_event_sets_its_own_columns_to_its_last_value_in_the_batch():
    events = [
        event(ev.MediaUploaded, 1, media_id=1, owner_id=7, media_type="image/png", byte_size=9,
              width=40, height=30, key="media/1/original"),
        event(ev.MediaDescribed, 2, media_id=1, owner_id=7, alt_text="first"),
        event(ev.TweetPosted, 3, tweet_id=50, author_id=7, content="x", media_ids=(2, 1)),
        event(ev.MediaDescribed, 4, media_id=1, owner_id=7, alt_text="second"),
        event(ev.MediaProcessed, 5, media_id=1, owner_id=7, renditions=(rendition("small"),)),
        event(ev.TweetPosted, 6, tweet_id=51, author_id=7, content="no media"),
        event(ev.MediaDeleted, 7, media_id=3, owner_id=7, reason="expired"),
    ]  # fmt: skip
    plan = plan_media(events)
    assert plan.uploaded[1].media_type == "image/png"
    assert plan.described[1].alt_text == "second"
    assert plan.attached == {2: (7, 50, 0), 1: (7, 50, 1)}
    assert list(plan.processed) == [1] and plan.deleted == {3: 7}
    assert plan.posted == {50}
    # Applying the batch again plans the very same rows (at-least-once delivery).
    assert plan_media(events) == plan
    assert not plan_media([events[5]])


def test_an_attachment_shows_the_large_rendition_and_says_when_it_is_still_processing():
    files = {
        name: rendition(name, *size).model_dump()
        for name, size in (("thumb", (150, 150)), ("small", (680, 453)), ("large", (2048, 1365)))
    }
    done = StoredMedia(1, "image/jpeg", 3000, 2000, "a view", files)
    shown = attachment(done, "https://cdn.example/")
    assert shown == {
        "media_id": "1",
        "type": "image",
        "width": 2048,
        "height": 1365,
        "alt_text": "a view",
        "processing": False,
        "url": "https://cdn.example/public/media/1/t/large.webp",
        "preview_url": "https://cdn.example/public/media/1/t/small.webp",
        "thumb_url": "https://cdn.example/public/media/1/t/thumb.webp",
    }
    pending = attachment(StoredMedia(1, "image/gif", 40, 30, "", None), "/")
    assert (pending["type"], pending["processing"], pending["url"]) == ("animated_gif", True, None)
    assert (pending["width"], pending["height"]) == (40, 30)
    video = StoredMedia(
        2, "video/mp4", None, None, "", {"video": rendition("video", None, None).model_dump()}
    )
    shown = attachment(video, "/")
    assert (shown["type"], shown["url"], shown["preview_url"]) == (
        "video",
        "/public/media/1/t/video.webp",
        None,
    )
