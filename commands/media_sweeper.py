"""Removing uploads nobody will see: never attached to a tweet in time, or attached to a
tweet deleted longer ago than the grace period (docs/media.md).

Two steps, so no file outlives its record and no attached upload loses its files:
1. `RemoveMedia` runs as a command: under the upload's row lock it checks that the upload
   is still due (a post may have attached it meanwhile) and records `MediaDeleted`; from
   then on nothing can attach or describe it.
2. The files of removed uploads are deleted (every key an upload may have), then their rows.
   A process dying in between leaves the row, and the next sweep deletes again.
Every API process sweeps; the row locks and the recheck make concurrent sweeps harmless.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from commands.media_keys import MediaKeys
from commands.model import MediaRemoved, RemoveMedia
from commands.runner import Answer, CommandRunner
from commands.write_model import WriteModel
from infra.object_store import ObjectStore

log = logging.getLogger("chirp.media")

# Uploads handled per sweep at most (each of the two kinds).
SWEEP_BATCH = 100


@dataclass
class MediaSweeper:
    write_model: WriteModel
    objects: ObjectStore
    keys: MediaKeys
    runner: CommandRunner
    orphan_seconds: float
    grace_seconds: float
    interval_seconds: float

    async def sweep(self) -> int:
        """Remove what is due now; how many uploads' files were deleted."""
        due = await self.write_model.media_due(self.orphan_seconds, self.grace_seconds, SWEEP_BATCH)
        for media_id, owner_id in due:
            command = RemoveMedia(owner_id, media_id, self.orphan_seconds, self.grace_seconds)
            await self.runner.run(command, _removed, idempotency_key=None, fingerprint="")
        removed = await self.write_model.removed_media(SWEEP_BATCH)
        for media_id in removed:
            await self.objects.delete(self.keys.all(media_id))
        if removed:
            await self.write_model.forget_media(removed)
            log.info("removed the files of %d upload(s)", len(removed))
        return len(removed)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.sweep()
            except Exception as error:  # noqa: BLE001 - the database or store is down: later
                log.warning("media not swept: %s", error)


def _removed(result: MediaRemoved) -> Answer:
    return Answer(200, {"media_id": str(result.media_id), "removed": result.removed})
