"""The media agent: makes the renditions of each upload (agents/renditions.py), stores them
beside the original and records them with `MediaProcessed`.

At least once: a redelivered `MediaUploaded` makes the same files again (the same keys, the
same bytes) and records `MediaProcessed` again, which names the same renditions; whatever
reads it keeps one set per media id. The event goes straight to the log (no outbox): if the
worker dies before the broker acknowledges it, the batch's positions were not recorded, so
the upload is processed again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from agents.batches import apply_records, record_batch
from agents.consumer import Batching
from agents.context import AgentContext
from agents.renditions import Made, renditions
from agents.video import ffmpeg, video_files
from commands.media_keys import MediaKeys
from commands.postgres_write_model import PostgresWriteModel
from infra.kafka_security import kafka_python_security
from infra.object_store import ObjectStore
from infra.object_stores import object_store
from schemas import events as ev
from streams.ids import SnowflakeIds
from streams.producer import EventProducer
from streams.topics import topic_registry

# A decode and three encodes take tens of milliseconds a photo: small batches keep an
# upload's renditions from waiting behind many others.
MEDIA_BATCHING = Batching(max_records=50, fetch_wait_ms=50, interval_ms=50)
READ_MODEL = "media"


class MediaProcessor:
    """The store the renditions go to and the producer their events go out by."""

    def __init__(
        self, store: ObjectStore, producer: EventProducer, ids: SnowflakeIds, keys: MediaKeys
    ) -> None:
        self.store, self.producer, self.ids, self.keys = store, producer, ids, keys

    async def process(self, upload: ev.MediaUploaded) -> ev.MediaProcessed:
        """Make, store and record the renditions of `upload` (a video: itself, public)."""
        original = await self.store.read(upload.key, upload.byte_size)
        if original is None:  # deleted since (an expired or removed upload)
            return await self._record(upload, ())
        if upload.media_type.startswith("image/"):
            made = await asyncio.to_thread(renditions, original)
        else:
            made = await asyncio.to_thread(video_renditions, original, upload.media_type)
        stored = []
        for rendition in made:
            suffix = "mp4" if rendition.name == "video" else "webp"
            key = self.keys.public(upload.media_id, f"{rendition.name}.{suffix}")
            await self.store.write(key, rendition.data, rendition.media_type)
            stored.append(
                ev.Rendition(
                    name=rendition.name,
                    key=key,
                    media_type=rendition.media_type,
                    width=rendition.width,
                    height=rendition.height,
                    byte_size=len(rendition.data),
                )
            )
        if stored and await self.store.size(upload.key) is None:
            # Removed while its renditions were made (an expired upload): the sweeper deletes
            # the original first, so what was just written goes too (commands/media_sweeper).
            await self.store.delete([r.key for r in stored])
            stored = []
        return await self._record(upload, tuple(stored))

    async def _record(self, upload, stored: tuple[ev.Rendition, ...]) -> ev.MediaProcessed:
        event = ev.MediaProcessed(
            event_id=self.ids.next_id(),
            occurred_at=datetime.now(UTC),
            actor_id=upload.owner_id,
            media_id=upload.media_id,
            owner_id=upload.owner_id,
            renditions=stored,
        )
        await self.producer.wait(await self.producer.enqueue(event))
        return event


def video_renditions(data: bytes, media_type: str) -> list[Made]:
    """A video's stills (made from its poster frame) and the video without its metadata,
    sized as the poster; where no ffmpeg is installed, the video as uploaded, alone."""
    executable = ffmpeg()
    if executable is None:
        return [Made("video", media_type, None, None, data)]
    files = video_files(data, executable)
    stills = renditions(files.poster)
    poster = next(still for still in stills if still.name == "large")
    return [*stills, Made("video", media_type, poster.width, poster.height, files.clean)]


_processor: MediaProcessor | None = None
_opening = asyncio.Lock()


async def media_processor(context: AgentContext) -> MediaProcessor:
    """The worker's processor, made by the first batch that needs it."""
    global _processor
    async with _opening:
        if _processor is None:
            settings = context.settings
            store = object_store(settings, settings.jwt_secret)
            await store.setup()
            producer = await asyncio.to_thread(
                EventProducer,
                settings.bootstrap_servers,
                topic_registry(settings),
                settings.produce_timeout_ms,
                kafka_python_security(settings),
            )
            worker_id = await PostgresWriteModel(context.models.pool).allocate_worker_id()
            _processor = MediaProcessor(
                store, producer, SnowflakeIds(worker_id), MediaKeys(settings.jwt_secret)
            )
    return _processor


async def close_media_processor() -> None:
    global _processor
    if _processor is not None:
        await asyncio.to_thread(_processor.producer.close)
        _processor = None


async def apply_media(context: AgentContext, records: list, dead_letters) -> None:
    """Process every upload among `records`; an image that fails to process is dead-lettered
    with its error, the others go on."""

    async def process(context: AgentContext, events: list[ev.Event]) -> None:
        uploads = [event for event in events if isinstance(event, ev.MediaUploaded)]
        if uploads:
            processor = await media_processor(context)
            for upload in uploads:
                await processor.process(upload)

    await apply_records(context, records, process, dead_letters)
    await record_batch(context, READ_MODEL, records)
