"""Completing an upload: read what arrived, tell what it is, and run the command that accepts
it (commands/media.py holds the rules)."""

from __future__ import annotations

import asyncio
import dataclasses

from api.problems import ProblemError, not_found
from commands.errors import DomainError
from commands.media import MAX_BYTES, inspect
from commands.media_keys import original_key
from commands.model import CompleteUpload
from commands.runner import Answer, Render
from commands.write_model import WriteModel
from infra.object_store import ObjectStore

# The refusals that condemn the bytes, not the request: those bytes are deleted.
BAD_BYTES = {
    "media-not-uploaded",
    "unsupported-media-type",
    "media-too-large",
    "media-too-many-pixels",
    "media-undecodable",
}


async def complete_upload(
    write_model: WriteModel,
    objects: ObjectStore,
    run,
    user_id: int,
    media_id: int,
    render: Render,
) -> Answer:
    """Check the bytes that arrived for the user's upload and accept them (MediaUploaded);
    refused bytes are deleted, and nothing is recorded."""
    record = await write_model.media(media_id)
    if record is None:
        raise not_found(f"media {media_id}")
    if record.owner_id != user_id:  # checked again, locked, by the command's rule
        raise ProblemError(403, "not-your-media", "Forbidden", "only the uploader can use it")
    key = original_key(media_id)
    # One byte past the bound is enough to know it is over.
    data = await objects.read(key, min(MAX_BYTES[record.declared_type], record.declared_bytes) + 1)
    size = await objects.size(key) if data is not None else None
    arrived = None
    if data is not None:
        arrived = await asyncio.to_thread(inspect, data)
        if size is not None and size > arrived.byte_size:  # read only the head of it
            arrived = dataclasses.replace(arrived, byte_size=size)
    try:
        return await run(CompleteUpload(user_id, media_id, arrived), render)
    except DomainError as error:
        if error.code in BAD_BYTES and not record.uploaded:
            await objects.delete([key])
        raise
