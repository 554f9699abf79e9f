"""Read-your-writes: a reader's request waits until the agents have applied that reader's writes.

After the broker acknowledges a write, the API records its (topic, partition, offset) for
the writer. Agents record how far they have applied each partition. A read by the same user
waits (briefly, bounded) until every partition it wrote to has been applied that far; other
readers never wait and see the write as soon as the agents do.
"""

from __future__ import annotations

import asyncio
import time

from projections.progress import Progress

POLL_SECONDS = 0.005
# A write's position is remembered this long: any read later than that is past it anyway.
REMEMBER_SECONDS = 60


async def remember_write(progress: Progress, user_id: int | None, metadata) -> None:
    if user_id is not None and metadata is not None:
        await progress.remember_write(
            user_id, metadata.topic, metadata.partition, metadata.offset, REMEMBER_SECONDS
        )


async def wait_for_own_writes(
    progress: Progress, user_id: int, timeout_seconds: float, group: str | None = None
) -> bool:
    """Wait until the reader's own writes are applied (by `group`'s agents: the core ones if
    None); False if the bound ran out first."""
    writes = await progress.last_writes(user_id)
    if not writes:
        return True
    places = list(writes)
    deadline = time.monotonic() + timeout_seconds
    while True:
        applied = await progress.positions(places, group)
        if all(applied[place] >= offset for place, offset in writes.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
