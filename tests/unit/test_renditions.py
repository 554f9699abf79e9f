"""Renditions (agents/renditions.py) and the media agent's processing (agents/media.py) with
an in-memory store and producer: stripped of metadata, the right sizes, GIF posters."""

from __future__ import annotations

import asyncio
import io
import subprocess
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image, ImageChops, ImageStat

from agents.media import MediaProcessor, video_renditions
from agents.renditions import renditions
from commands.media_keys import MediaKeys
from schemas import events as ev
from streams.ids import SnowflakeIds
from tests.support.images import VIDEO_LOCATION, gif, jpeg, mp4, png


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_a_photo_with_gps_exif_gives_three_webp_renditions_without_any_metadata():
    photo = jpeg(3000, 2000)
    assert ExifTags.Base.GPSInfo in opened(photo).getexif()  # the test photo says where
    made = {m.name: m for m in renditions(photo)}
    assert {name: (m.width, m.height) for name, m in made.items()} == {
        "thumb": (150, 150),
        "small": (680, 453),
        "large": (2048, 1365),
    }
    for rendition in made.values():
        image = opened(rendition.data)
        assert (image.format, image.size) == ("WEBP", (rendition.width, rendition.height))
        assert not image.getexif() and not {"exif", "xmp", "icc_profile"} & set(image.info)
        assert b"Chirp Test Camera" not in rendition.data


def test_a_small_image_is_never_enlarged():
    made = {m.name: (m.width, m.height) for m in renditions(png(320, 200))}
    assert made == {"thumb": (150, 150), "small": (320, 200), "large": (320, 200)}


def test_a_sideways_photo_is_made_upright_as_its_exif_orientation_says():
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° to show it
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    large = next(m for m in renditions(out.getvalue()) if m.name == "large")
    assert (large.width, large.height) == (480, 640)


def test_an_animated_gif_gets_a_first_frame_poster_and_its_animation():
    animation = gif(120, 80, frames=3)
    made = {m.name: m for m in renditions(animation)}
    assert set(made) == {"thumb", "small", "large", "animation"}
    assert getattr(opened(made["large"].data), "n_frames", 1) == 1
    poster = opened(made["large"].data).convert("L")
    source = opened(animation)
    distances = []
    for frame in range(3):
        source.seek(frame)
        difference = ImageChops.difference(poster, source.convert("L"))
        distances.append(ImageStat.Stat(difference).mean[0])
    assert distances[0] < 3 < min(distances[1:])  # the first frame, up to WebP's loss
    assert opened(made["animation"].data).n_frames == 3


KEYS = MediaKeys("the deployment's secret")


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        data = self.objects.get(key)
        return None if data is None else data[:max_bytes]

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    async def size(self, key: str) -> int | None:
        data = self.objects.get(key)
        return None if data is None else len(data)

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)


class MemoryProducer:
    def __init__(self) -> None:
        self.sent: list[ev.Event] = []

    async def enqueue(self, event: ev.Event):
        self.sent.append(event)
        return event

    async def wait(self, acked):
        return acked


def uploaded(media_type: str, data: bytes) -> ev.MediaUploaded:
    return ev.MediaUploaded(
        event_id=1,
        occurred_at=datetime.now(UTC),
        actor_id=7,
        media_id=99,
        owner_id=7,
        media_type=media_type,
        byte_size=len(data),
        width=None,
        height=None,
        key="media/99/original",
    )


def test_processing_stores_the_renditions_beside_the_original_and_records_them():
    store, producer = MemoryStore(), MemoryProducer()
    store.objects["media/99/original"] = photo = jpeg()
    processor = MediaProcessor(store, producer, SnowflakeIds(1), KEYS)  # type: ignore[arg-type]
    event = asyncio.run(processor.process(uploaded("image/jpeg", photo)))
    assert producer.sent == [event]
    assert (event.media_id, event.owner_id) == (99, 7)
    keys = [r.key for r in event.renditions]
    assert keys == [KEYS.public(99, name) for name in ("thumb.webp", "small.webp", "large.webp")]
    # Public, under a token of the deployment's secret: not to be found by counting ids.
    assert all(
        k.startswith("public/media/99/") and k != MediaKeys("other").public(99, "thumb.webp")
        for k in keys
    )
    assert all(len(store.objects[r.key]) == r.byte_size for r in event.renditions)
    # Again (a redelivery): the same files, the same renditions recorded.
    again = asyncio.run(processor.process(uploaded("image/jpeg", photo)))
    assert again.renditions == event.renditions


def test_a_video_gets_a_poster_and_is_served_without_its_metadata():
    store, producer = MemoryStore(), MemoryProducer()
    processor = MediaProcessor(store, producer, SnowflakeIds(1), KEYS)  # type: ignore[arg-type]
    store.objects["media/99/original"] = clip = mp4(320, 240)
    assert VIDEO_LOCATION.encode() in clip and b"Chirp Test Camera" in clip
    event = asyncio.run(processor.process(uploaded("video/mp4", clip)))
    sizes = {r.name: (r.width, r.height) for r in event.renditions}
    assert sizes == {"thumb": (150, 150), "small": (320, 240), "large": (320, 240),
                     "video": (320, 240)}  # fmt: skip
    served = store.objects[KEYS.public(99, "video.mp4")]
    assert served[4:8] == b"ftyp" and len(served) > 1000
    assert VIDEO_LOCATION.encode() not in served and b"Chirp Test Camera" not in served
    poster = Image.open(io.BytesIO(store.objects[KEYS.public(99, "large.webp")]))
    assert poster.size == (320, 240)


def test_a_video_ffmpeg_cannot_read_fails_to_process():
    with pytest.raises(subprocess.CalledProcessError):
        video_renditions(b"\0\0\0\x18ftypmp42" + bytes(100), "video/mp4")


def test_without_ffmpeg_a_video_is_served_as_uploaded_and_a_gone_upload_gets_nothing(
    monkeypatch,
):
    monkeypatch.setattr("agents.media.ffmpeg", lambda: None)  # no imageio-ffmpeg installed
    store, producer = MemoryStore(), MemoryProducer()
    processor = MediaProcessor(store, producer, SnowflakeIds(1), KEYS)  # type: ignore[arg-type]
    store.objects["media/99/original"] = mp4 = b"\0\0\0\x18ftypmp42" + bytes(100)
    video = asyncio.run(processor.process(uploaded("video/mp4", mp4)))
    [served] = video.renditions
    assert (served.name, served.key, served.width) == ("video", KEYS.public(99, "video.mp4"), None)
    assert store.objects[served.key] == mp4
    store.objects.clear()
    gone = asyncio.run(processor.process(uploaded("image/png", png())))
    assert gone.renditions == () and store.objects == {}


class VanishingStore(MemoryStore):
    """An upload removed (original deleted) while its renditions are being written."""

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        await super().write(key, data, content_type)
        self.objects.pop("media/99/original", None)


def test_renditions_of_an_upload_removed_meanwhile_are_deleted_again():
    store, producer = VanishingStore(), MemoryProducer()
    store.objects["media/99/original"] = photo = jpeg()
    processor = MediaProcessor(store, producer, SnowflakeIds(1), KEYS)  # type: ignore[arg-type]
    event = asyncio.run(processor.process(uploaded("image/jpeg", photo)))
    assert event.renditions == () and store.objects == {}
