"""Media uploads through the API on the real stack: reserve, PUT the bytes to the presigned
URL, complete. What the bytes are decides their type; bad bytes, foreign ids and expired URLs
get a clear 4xx, record nothing and leave no object behind."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import ExifTags, Image

from commands.media import MAX_BYTES
from infra.embedded_object_store import EmbeddedObjectStore
from schemas import events as ev
from tests.support.clients import User, eventually, register
from tests.support.images import jpeg, png, png_bomb
from tests.support.media import complete, put, start, upload


def uploaded_events(event_log, user: User) -> list[ev.MediaUploaded]:
    event_log.sync()
    return [e for e in event_log.by_actor(user.id) if isinstance(e, ev.MediaUploaded)]


def original(stack, media_id: str):
    return stack.settings.media_directory / "media" / media_id / "original"


def test_a_photo_is_accepted_as_what_its_bytes_are_and_recorded_once(client, event_log, stack):
    user = register(client, "pic")
    photo = jpeg(640, 480)
    ticket = start(client, user, "image/jpeg", len(photo))
    assert ticket["upload_method"] == "PUT" and ticket["expires_at"]
    assert put(ticket, photo).status_code == 204
    first = complete(client, user, ticket["media_id"])
    assert first.status_code == 200, first.text
    assert first.json() == {
        "media_id": ticket["media_id"],
        "media_type": "image/jpeg",
        "byte_size": len(photo),
        "width": 640,
        "height": 480,
    }
    again = complete(client, user, ticket["media_id"])  # a retry: the same answer
    assert again.status_code == 200 and again.json() == first.json()
    [event] = eventually(lambda: uploaded_events(event_log, user))
    assert (str(event.media_id), event.media_type, event.width, event.key) == (
        ticket["media_id"],
        "image/jpeg",
        640,
        f"media/{ticket['media_id']}/original",
    )
    assert original(stack, ticket["media_id"]).read_bytes() == photo
    assert len(uploaded_events(event_log, user)) == 1


def processed(event_log, user: User) -> list[ev.MediaProcessed]:
    event_log.sync()
    return [e for e in event_log.by_actor(user.id) if isinstance(e, ev.MediaProcessed)]


def test_a_gps_tagged_photo_is_served_as_renditions_without_metadata(client, event_log, stack):
    user = register(client, "gps")
    photo = jpeg(3000, 2000)
    assert ExifTags.Base.GPSInfo in Image.open(io.BytesIO(photo)).getexif()
    assert upload(client, user, photo).status_code == 200
    found = eventually(lambda: processed(event_log, user), timeout=30)
    assert found, "no MediaProcessed within 30 s"
    renditions = {r.name: r for r in found[0].renditions}
    assert {name: (r.width, r.height) for name, r in renditions.items()} == {
        "thumb": (150, 150),
        "small": (680, 453),
        "large": (2048, 1365),
    }
    # As a client gets them: public, at keys no one can guess, cached for good.
    for rendition in renditions.values():
        assert rendition.key.startswith(f"public/media/{found[0].media_id}/")
        served = client.get(f"/api/v1/objects/{rendition.key}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
        assert "immutable" in served.headers["cache-control"]
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (rendition.width, rendition.height)
        assert not image.getexif() and "exif" not in image.info
        assert b"Chirp Test Camera" not in served.content


def test_a_png_declared_as_a_jpeg_is_a_png(client):
    user = register(client, "png")
    answer = upload(client, user, png(320, 200), declared="image/jpeg")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["media_type"], answer.json()["width"]) == ("image/png", 320)


@pytest.mark.parametrize(
    ("what", "data", "code"),
    [
        ("nothing uploaded", None, "media-not-uploaded"),
        ("a 0-byte file", b"", "media-not-uploaded"),
        ("a truncated image", jpeg()[:3000], "media-undecodable"),
        ("a decompression bomb", png_bomb(), "media-too-many-pixels"),
        ("a bomb Pillow would open", png_bomb(9000, 9000), "media-too-many-pixels"),
        ("a text file", b"<script>alert(1)</script>", "unsupported-media-type"),
    ],
)
def test_bad_bytes_are_refused_and_leave_nothing(client, event_log, stack, what, data, code):
    user = register(client, "bad")
    ticket = start(client, user, "image/png", 4096)
    if data is not None:
        assert put(ticket, data).status_code == 204
    answer = complete(client, user, ticket["media_id"])
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"urn:chirp:problem:{code}"
    assert not original(stack, ticket["media_id"]).exists()  # the bytes are gone
    assert uploaded_events(event_log, user) == []


def test_files_over_the_limit_are_refused_before_and_at_the_upload(client, stack):
    user = register(client, "big")
    too_big = {"content_type": "image/png", "byte_size": MAX_BYTES["image/png"] + 1}
    answer = client.post("/api/v1/media", headers=user.auth, json=too_big)
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:chirp:problem:media-too-large"
    ticket = start(client, user, "image/jpeg", 1000)
    assert put(ticket, jpeg()).status_code == 413  # more than the URL was signed for
    assert not original(stack, ticket["media_id"]).exists()


def test_only_the_uploader_completes_an_upload(client, event_log):
    owner, other = register(client, "own"), register(client, "oth")
    ticket = start(client, owner, "image/jpeg", len(jpeg()))
    assert put(ticket, jpeg()).status_code == 204
    answer = complete(client, other, ticket["media_id"])
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:chirp:problem:not-your-media"
    assert complete(client, other, "4242").status_code == 404
    assert uploaded_events(event_log, other) == []
    assert complete(client, owner, ticket["media_id"]).status_code == 200  # still the owner's


def test_an_expired_upload_url_is_refused_and_records_nothing(client, stack, event_log):
    user = register(client, "late")
    photo = jpeg()
    ticket = start(client, user, "image/jpeg", len(photo))
    # The same URL signed by the deployment's key, but for a moment now past.
    url = urlsplit(ticket["upload_url"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    store = EmbeddedObjectStore(stack.settings.media_directory, "", stack.settings.jwt_secret)
    expired = int(time.time()) - 1
    key = url.path.split("/objects/", 1)[1]
    query |= {
        "expires": str(expired),
        "signature": store.signer.signature(
            "PUT", key, expired, int(query["max_bytes"]), "image/jpeg"
        ),
    }
    answer = httpx.put(
        url._replace(query=urlencode(query)).geturl(),
        content=photo,
        headers=ticket["upload_headers"],
    )
    assert answer.status_code == 403
    assert "expired" in answer.json()["detail"]
    assert complete(client, user, ticket["media_id"]).status_code == 422
    assert uploaded_events(event_log, user) == []
