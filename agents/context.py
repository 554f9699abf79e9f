"""What every agent works with: the read models, opened once per worker process."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from infra import targets
from infra.read_models import ReadModels, build_read_models, open_read_models, search_index
from infra.settings import Settings
from projections.fanout import CelebrityThreshold
from projections.search import SearchIndex
from streams.archive import PostgresArchive


@dataclass
class AgentContext:
    settings: Settings
    models: ReadModels  # the core generation in use: replaced when a replay switches it
    threshold: CelebrityThreshold
    search: SearchIndex  # this process holds the index's one writer
    archive: PostgresArchive
    # Open unless a replay is taking over the core read models (handover, below).
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    # Core batches being applied now: a pause is answered only once none is.
    busy: int = 0

    def __post_init__(self) -> None:
        self.gate.set()


log = logging.getLogger("chirp.agents")

_context: AgentContext | None = None
_opening = asyncio.Lock()
_resources = AsyncExitStack()


async def agent_context(settings: Settings) -> AgentContext:
    """The worker's context, opened by the first agent that asks."""
    global _context
    async with _opening:
        if _context is None:
            # Opened whole or not at all: a failure leaves nothing open behind (Faust
            # restarts a crashed agent, which would open it all again).
            async with AsyncExitStack() as opened:
                models = await opened.enter_async_context(open_read_models(settings, setup=True))
                search = search_index(settings, writable=True)
                opened.push_async_callback(search.close)
                await search.setup()
                _context = AgentContext(
                    settings=settings, models=models,
                    threshold=CelebrityThreshold(settings.celebrity_threshold,
                                                 settings.celebrity_threshold_lowered,
                                                 settings.fanout_lag_bound_seconds),
                    search=search,
                    archive=PostgresArchive(models.pool, settings.archive_schema))
                _resources.push_async_callback(opened.pop_all().aclose)
    return _context


async def follow_core_target(context: AgentContext) -> None:
    """The agents' side of a replay's handover (infra/targets.py): pause the core agents
    when asked and say how far they got; move to the new generation once it is switched."""
    settings, pool = context.settings, context.models.pool
    base = settings.read_schema

    async def switch_core(generation: int) -> None:
        context.models = build_read_models(
            settings.model_copy(update={"core_generation": generation}), pool,
            context.models.redis)
        log.info("core agents now write generation %d", generation)

    watcher = targets.TargetWatcher(pool, base, context.models.settings.core_generation,
                                    switch_core)
    while True:
        try:
            handover = await targets.pending_handover(pool, base)
            if handover is not None and handover[3] > targets.HANDOVER_TIMEOUT_SECONDS:
                # The replay that asked died: do not stay paused for it.
                log.error("a handover to generation %d was abandoned; resuming", handover[0])
                await targets.cancel_handover(pool, base)
                handover = None
            if handover is not None and handover[1] == "pause" and context.gate.is_set():
                context.gate.clear()
                while context.busy:
                    await asyncio.sleep(0.002)
                await targets.answer_paused(
                    pool, base, await context.models.cache.applied(settings.agent_group))
                log.info("core agents paused for generation %d", handover[0])
            await watcher.check()
            if handover is None and not context.gate.is_set():
                context.gate.set()  # switched, or the replay gave up
        except Exception as error:  # noqa: BLE001 - a store down: this loop must go on
            log.warning("could not follow the read-model target: %s", error)
        await asyncio.sleep(targets.POLL_SECONDS)


async def close_agent_context() -> None:
    global _context
    await _resources.aclose()
    _context = None
