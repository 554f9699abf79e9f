"""What an upload is, told by its bytes, and the rules of starting and completing one
(commands/media.py, commands/rules.py), with no server."""

from __future__ import annotations

import pytest

from commands.errors import Refusal
from commands.media import MAX_BYTES, Arrived, arrival_refusal, inspect
from commands.model import (
    CompleteUpload,
    MediaAccepted,
    MediaRecord,
    Needs,
    StartUpload,
    State,
    UploadStarted,
)
from commands.rules import needs
from schemas import events as ev
from tests.support.images import gif, jpeg, png, png_bomb
from tests.unit.test_command_rules import ADA, BOB, refusal, run

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
