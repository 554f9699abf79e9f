"""The archive agent: every record of the event topics into the archive, in batches.

Records that are not events are left out of the archive (the projection agents reading the
same topics dead-letter them) but still advance its positions.
"""

from __future__ import annotations

import logging

from agents.batches import until_available
from agents.consumer import Batching
from agents.context import AgentContext
from streams.archive import Record

log = logging.getLogger("chirp.agents.archive")

# Large batches: one INSERT per batch is what makes archiving cheap beside the projections.
ARCHIVE_BATCHING = Batching(max_records=5000, fetch_wait_ms=50, interval_ms=250)


async def apply_archive(context: AgentContext, records: list) -> None:
    """Archive `records` (the positions advance past the ones that are not events)."""
    prefix = context.settings.topic_prefix
    archived = [
        Record(
            record.topic.removeprefix(prefix),
            record.partition,
            record.offset,
            record.key,
            record.value,
        )
        for record in records
    ]
    archive = context.archive
    assert archive is not None  # a replay's context, the only one without, does not archive
    rejected = await until_available(lambda: archive.append(archived), "archive")
    for record, why in rejected:
        log.warning(
            "not archived: %s[%s]@%s: %s", record.topic, record.partition, record.offset, why
        )


async def archived_positions(
    context: AgentContext, places: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """How far the archive has read each of `places`: where its consumer resumes."""
    prefix = context.settings.topic_prefix
    assert context.archive is not None  # a replay's context, the only one without, does not archive
    positions = await until_available(context.archive.positions, "archive positions")
    return {
        (topic, partition): positions.get((topic.removeprefix(prefix), partition), -1)
        for topic, partition in places
    }
