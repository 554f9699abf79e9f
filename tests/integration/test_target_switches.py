"""Readers hear of a read-model switch on the real PostgreSQL as it commits (LISTEN/NOTIFY), not
at their next look at the pointer: projections/targets.TargetWatcher."""

from __future__ import annotations

import asyncio
import uuid

from psycopg_pool import AsyncConnectionPool

from projections import targets
from projections.targets import ReadModel, TargetWatcher


def test_a_watcher_is_told_of_a_switch_at_once(stack, monkeypatch):
    # The watcher's own look at the pointer comes only after an hour here: a switch seen
    # within seconds was notified. A deployment of its own (read_schema), so no other test's
    # readers move.
    monkeypatch.setattr(targets, "RECHECK_SECONDS", 3600.0)
    settings = stack.settings.model_copy(update={"read_schema": f"w{uuid.uuid4().hex[:8]}"})
    trends = targets.base(settings, ReadModel.TRENDS)

    async def scenario() -> None:
        seen: list[tuple[int, set[str]]] = []
        changed = asyncio.Event()

        async def on_switch(now, switched: set[str]) -> None:
            seen.append((now.trends_generation, switched))
            changed.set()

        async with AsyncConnectionPool(settings.postgres, min_size=1, max_size=2) as pool:
            watching = asyncio.create_task(TargetWatcher(pool, settings, on_switch).run())
            try:
                await asyncio.sleep(0)  # the watcher listens before the switch is made...
                for generation in (2, 3):
                    await targets.request_pause(pool, trends, generation)
                    await targets.answer_paused(pool, trends, {})
                    await targets.switch(pool, trends, generation)
                    # ...and, had it not yet, checks the pointer once listening.
                    await asyncio.wait_for(changed.wait(), timeout=10)
                    changed.clear()
                assert seen == [(2, {ReadModel.TRENDS}), (3, {ReadModel.TRENDS})]
            finally:
                watching.cancel()
                async with pool.connection() as conn:
                    await conn.execute("DELETE FROM chirp_meta.targets WHERE base = %s", (trends,))

    asyncio.run(scenario())
