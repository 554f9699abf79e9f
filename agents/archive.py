"""The archive agent: every record of the event topics into the archive, in batches.

Records that are not events are left out of the archive (the projection agents reading the
same topics dead-letter them) but still advance its positions.
"""

from __future__ import annotations

import logging

from agents.batches import until_available
from agents.context import AgentContext
from streams.archive import Record

log = logging.getLogger("chirp.agents.archive")

# Large batches: one INSERT per batch is what makes archiving cheap beside the projections.
ARCHIVE_BATCH = 2000
ARCHIVE_WINDOW_SECONDS = 0.05


async def consume_archive(stream, context: AgentContext) -> None:
    prefix = context.settings.topic_prefix
    async for batch in stream.take_events(ARCHIVE_BATCH, within=ARCHIVE_WINDOW_SECONDS):
        records = [Record(message.topic.removeprefix(prefix), message.partition, message.offset,
                          message.key, message.value)
                   for message in (event.message for event in batch)]
        rejected = await until_available(lambda: context.archive.append(records), "archive")
        for record, why in rejected:
            log.warning("not archived: %s[%s]@%s: %s", record.topic, record.partition,
                        record.offset, why)
