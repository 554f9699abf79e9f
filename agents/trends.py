"""The trends agent: upserts the Flink job's rows from `trending-topics` into the trends store.

Rows are keyed by (window, hashtag) in the store, so a row delivered twice, or a window the
job computed again after a restart, leaves the same state.
"""

from __future__ import annotations

from functools import partial

from agents.batches import dead_letter, record_progress, until_available
from agents.context import AgentContext
from projections.trends import BadTrendRow, TrendRow, decode_trend_row

# A window's rows arrive in one burst; taking them in one batch writes them in one transaction.
TRENDS_BATCH = 1000
TRENDS_WINDOW_SECONDS = 0.05


async def consume_trends(stream, context: AgentContext, dead_letters) -> None:
    async for batch in stream.take_events(TRENDS_BATCH, within=TRENDS_WINDOW_SECONDS):
        rows = []
        for event in batch:
            try:
                rows.append(decode_trend_row(event.message.value))
            except BadTrendRow as error:
                await dead_letter(dead_letters, event.message, error)
        last = {
            (event.message.topic, event.message.partition): event.message.offset for event in batch
        }
        async with context.applying("trends"):  # held while a replay takes the trends over
            await until_available(partial(_apply, context, rows, last), "trends")


async def _apply(
    context: AgentContext, rows: list[TrendRow], last: dict[tuple[str, int], int]
) -> None:
    await context.models.trends.upsert(rows)
    # How far the trends are applied: where a replay of them hands over.
    await record_progress(context, "trends", last)
