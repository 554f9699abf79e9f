"""What an upload is, told by its bytes, and the rules of starting and completing one
(commands/media.py, commands/rules.py), with no server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from commands.errors import Refusal
from commands.media import MAX_BYTES, Arrived, arrival_refusal, inspect
from commands.media_keys import MediaKeys
from commands.model import (
    CompleteUpload,
    DescribeMedia,
    MediaAccepted,
    MediaDescribedResult,
    MediaRecord,
    MediaRemoved,
    Needs,
    PostTweet,
    RemoveMedia,
    StartUpload,
    State,
    UploadStarted,
)
from commands.rules import needs
from schemas import events as ev
from tests.support.images import gif, jpeg, png, png_bomb
from tests.unit.test_command_rules import ADA, BOB, NOW, refusal, run

MEDIA = 700


def reserved(owner=ADA, declared_bytes=1_000_000, uploaded=False) -> State:
    record = MediaRecord(MEDIA, owner, "image/jpeg", declared_bytes, uploaded)
    return State(users=frozenset({ADA, BOB}), media={MEDIA: record})


# ---- what the bytes are ---------------------------------------------------------------------


def test_a_jpeg_is_known_by_its_bytes_with_its_pixel_size_and_it_decodes():
    assert inspect(jpeg(640, 480)) == Arrived(len(jpeg(640, 480)), "image/jpeg", 640, 480, 1, True)


def test_a_png_declared_as_a_jpeg_is_a_png():
    arrived = inspect(png(320, 200))
    assert (arrived.media_type, arrived.width, arrived.height) == ("image/png", 320, 200)


def test_an_animated_gif_counts_its_frames():
    assert inspect(gif(frames=3)).frames == 3


def test_a_truncated_jpeg_does_not_decode():
    arrived = inspect(jpeg()[:3000])
    assert arrived.media_type == "image/jpeg" and arrived.decodable is False


@pytest.mark.parametrize("side", [9000, 100_000])
def test_a_decompression_bomb_is_never_decoded_and_is_refused(side):
    arrived = inspect(png_bomb(side, side))
    assert arrived.decodable is None  # not tried
    assert refused_as(arrived, 1000) == "media-too-many-pixels"


def refused_as(arrived: Arrived | None, declared_bytes: int) -> str | None:
    refused = arrival_refusal(arrived, declared_bytes)
    return refused.code if refused else None


def test_bytes_of_no_media_type_and_empty_uploads_are_refused():
    assert refused_as(inspect(b"<html>not a picture</html>"), 100) == "unsupported-media-type"
    assert refused_as(inspect(b""), 100) == "media-not-uploaded"
    assert refused_as(None, 100) == "media-not-uploaded"


def test_more_bytes_than_declared_or_than_the_type_takes_are_refused():
    photo = inspect(jpeg())
    assert refused_as(photo, photo.byte_size) is None
    assert refused_as(photo, photo.byte_size - 1) == "media-too-large"
    huge = Arrived(MAX_BYTES["image/jpeg"] + 1, "image/jpeg", 10, 10, 1, True)
    assert refused_as(huge, 10**9) == "media-too-large"


# ---- the commands ---------------------------------------------------------------------------


def test_starting_an_upload_reserves_a_media_id_and_records_no_event():
    decision = run(StartUpload(ADA, "image/png", 5000), reserved())
    assert isinstance(decision.result, UploadStarted) and decision.event is None
    [record] = decision.changes.media
    assert record == MediaRecord(decision.result.media_id, ADA, "image/png", 5000, False)


def test_an_upload_declared_over_its_types_limit_never_starts():
    command = StartUpload(ADA, "image/png", MAX_BYTES["image/png"] + 1)
    assert refusal(command, reserved()) == (Refusal.INVALID, "media-too-large")


def test_completing_locks_the_upload_and_records_media_uploaded_as_the_bytes_say():
    assert needs(CompleteUpload(ADA, MEDIA, None)) == Needs(
        users=frozenset({ADA}), media=frozenset({MEDIA})
    )
    arrived = inspect(png(320, 200))  # declared a JPEG
    decision = run(CompleteUpload(ADA, MEDIA, arrived), reserved())
    assert decision.result == MediaAccepted(MEDIA, "image/png", arrived.byte_size, 320, 200)
    event = decision.event
    assert isinstance(event, ev.MediaUploaded)
    assert (event.media_id, event.owner_id, event.media_type, event.key) == (
        MEDIA,
        ADA,
        "image/png",
        f"media/{MEDIA}/original",
    )
    assert decision.changes.uploaded == (MEDIA,)


def test_completing_again_answers_the_same_with_no_second_event():
    arrived = inspect(png())
    decision = run(CompleteUpload(ADA, MEDIA, arrived), reserved(uploaded=True))
    assert isinstance(decision.result, MediaAccepted) and decision.event is None


def test_only_the_uploader_completes_an_upload_and_an_unknown_one_is_not_found():
    arrived = inspect(png())
    assert refusal(CompleteUpload(BOB, MEDIA, arrived), reserved()) == (
        Refusal.FORBIDDEN,
        "not-your-media",
    )
    assert refusal(CompleteUpload(ADA, MEDIA + 1, arrived), reserved()) == (
        Refusal.NOT_FOUND,
        "not-found",
    )


def test_bad_bytes_complete_nothing():
    for data in (b"", jpeg()[:3000], png_bomb()):
        assert refusal(CompleteUpload(ADA, MEDIA, inspect(data)), reserved())[0] is Refusal.INVALID


# ---- attaching, describing and removing ----------------------------------------------------


def uploads(*records: MediaRecord) -> State:
    return State(users=frozenset({ADA, BOB}), media={r.media_id: r for r in records})


def upload(media_id: int, owner=ADA, **fields) -> MediaRecord:
    defaults = {"uploaded": True, "created_at": NOW - timedelta(minutes=1)}
    return MediaRecord(media_id, owner, "image/jpeg", 1000, **(defaults | fields))


def test_a_post_attaches_its_uploads_in_order_and_takes_them():
    command = PostTweet(ADA, "look", media_ids=(702, 701))
    assert needs(command).media == frozenset({701, 702})  # locked: one post takes each
    decision = run(command, uploads(upload(701), upload(702)))
    event = decision.event
    assert isinstance(event, ev.TweetPosted) and event.media_ids == (702, 701)
    assert decision.changes.attached == ((702, event.tweet_id), (701, event.tweet_id))


@pytest.mark.parametrize(
    ("media_ids", "records", "expected"),
    [
        ((701,), [upload(701, owner=BOB)], (Refusal.FORBIDDEN, "not-your-media")),
        ((701,), [], (Refusal.NOT_FOUND, "not-found")),
        ((701,), [upload(701, removed=True)], (Refusal.NOT_FOUND, "not-found")),
        ((701,), [upload(701, uploaded=False)], (Refusal.INVALID, "media-not-uploaded")),
        ((701,), [upload(701, attached_to=9)], (Refusal.CONFLICT, "media-attached")),
        ((701, 701), [upload(701)], (Refusal.INVALID, "too-many-attachments")),
        (
            tuple(range(701, 706)),
            [upload(m) for m in range(701, 706)],
            (Refusal.INVALID, "too-many-attachments"),
        ),
    ],
)
def test_what_a_post_may_not_attach(media_ids, records, expected):
    assert refusal(PostTweet(ADA, "x", media_ids=media_ids), uploads(*records)) == expected


def test_alt_text_is_set_by_the_uploader_only():
    decision = run(DescribeMedia(ADA, 701, "a cat"), uploads(upload(701)))
    assert decision.result == MediaDescribedResult(701, "a cat")
    assert isinstance(decision.event, ev.MediaDescribed) and decision.event.alt_text == "a cat"
    assert refusal(DescribeMedia(BOB, 701, "mine"), uploads(upload(701)))[1] == "not-your-media"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (upload(701, created_at=NOW - timedelta(hours=2)), "expired"),
        (upload(701, created_at=NOW - timedelta(minutes=30)), None),  # not yet
        (upload(701, created_at=NOW - timedelta(hours=2), attached_to=9), None),  # attached
        (upload(701, attached_to=9, released_at=NOW - timedelta(minutes=11)), "tweet-deleted"),
        (upload(701, attached_to=9, released_at=NOW - timedelta(minutes=9)), None),  # grace
        (upload(701, created_at=NOW - timedelta(hours=2), removed=True), None),  # done
    ],
)
def test_an_upload_is_removed_only_when_due(record, reason):
    command = RemoveMedia(ADA, 701, orphan_seconds=3600, grace_seconds=600)
    decision = run(command, uploads(record))
    assert decision.result == MediaRemoved(701, reason is not None)
    if reason is None:
        assert decision.event is None and decision.changes.removed == ()
    else:
        assert isinstance(decision.event, ev.MediaDeleted) and decision.event.reason == reason
        assert decision.changes.removed == (701,)


def test_an_uploads_public_keys_are_its_own_and_unguessable_without_the_secret():
    keys = MediaKeys("secret")
    assert keys.public(701, "small.webp") != keys.public(702, "small.webp")
    assert keys.public(701, "small.webp") != MediaKeys("other").public(701, "small.webp")
    every = keys.all(701)
    assert every[0] == "media/701/original"
    assert all(key.startswith("public/media/701/") for key in every[1:])
