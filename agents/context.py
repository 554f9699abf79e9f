"""What every agent works with: the read models, opened once per worker process."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from infra.settings import Settings
from projections import targets
from projections.fanout import CelebrityThreshold
from projections.read_models import ReadModels, build_read_models, open_read_models, search_index
from projections.search import SearchIndex
from projections.tantivy_commits import SearchIndexLocked
from projections.targets import ReadModel, group_of
from streams.archive import PostgresArchive


@dataclass
class AgentContext:
    settings: Settings
    models: ReadModels  # the generations in use: replaced when a replay switches one
    # A replay's context holds only what its read model writes with (operations/replay.py):
    # no archive, no threshold for search, no index for the core read models.
    threshold: CelebrityThreshold | None
    search: SearchIndex | None  # this process holds the index's one writer
    archive: PostgresArchive | None
    # Whether batches are told to connected readers (docs/streaming.md): the live worker's
    # are; a replay's, which re-apply the past, are not.
    publishes_live: bool = False
    # Per read model (core, search, trends): open unless a replay is taking it over
    # (handover, below), and the batches being applied to it now.
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for read_model in targets.READ_MODELS:
            self.gates[read_model] = asyncio.Event()
            self.gates[read_model].set()
            self.busy[read_model] = 0

    @asynccontextmanager
    async def applying(self, read_model: str):
        """Around a batch applied to `read_model`: waits while a replay takes it over; a
        pause is answered only once no batch is under way."""
        await self.gates[read_model].wait()
        self.busy[read_model] += 1
        try:
            yield
        finally:
            self.busy[read_model] -= 1


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
                # No read timeout: an agent would only retry a slow Redis, and a timeout
                # armed for every reply of a batch's pipeline cost 5% of the worker's CPU.
                models = await opened.enter_async_context(
                    open_read_models(settings, setup=True, redis_read_timeout=None)
                )
                search = search_index(models.settings, writable=True)
                # The index in use then: a replay may have switched it meanwhile.
                opened.push_async_callback(
                    lambda: (_context.search if _context and _context.search else search).close()
                )
                try:
                    await search.setup()
                except SearchIndexLocked as error:
                    # Another worker writes this index: waiting for it would be waiting for
                    # ever. Say which one it is and end this worker at once: nothing has been
                    # applied (every agent needs this context), and Faust would make an
                    # exception here a crash report and keep the worker up.
                    log.error("%s", error)
                    logging.shutdown()
                    os._exit(1)
                _context = AgentContext(
                    settings=settings,
                    models=models,
                    threshold=CelebrityThreshold(
                        settings.celebrity_threshold,
                        settings.celebrity_threshold_lowered,
                        settings.fanout_lag_bound_seconds,
                    ),
                    search=search,
                    archive=PostgresArchive(models.pool, settings.archive_schema),
                    publishes_live=True,
                )
                _resources.push_async_callback(opened.pop_all().aclose)
    return _context


async def follow_targets(context: AgentContext) -> None:
    """The agents' side of a replay's handover (projections/targets.py): pause a read model's
    agents when asked and say how far they got; move to a new generation once switched."""
    pool = context.models.pool

    async def switch(settings: Settings, switched: set[str]) -> None:
        if ReadModel.SEARCH in switched:
            fresh = search_index(settings, writable=True)
            assert context.search is not None  # the worker's context has the index
            await context.search.close()  # its directory lock first
            await fresh.setup()
            await fresh.promote()  # again, should the replay have died right after switching
            context.search = fresh
        context.models = build_read_models(settings, pool, context.models.redis)
        log.info(
            "agents now write generations %s",
            {read_model: settings.generation(read_model) for read_model in sorted(switched)},
        )

    watcher = targets.TargetWatcher(pool, context.models.settings, switch)
    bases: dict[str, str] = {
        read_model: targets.base(context.settings, read_model) for read_model in targets.READ_MODELS
    }
    while True:
        try:
            handovers = await targets.pending_handovers(pool, list(bases.values()))
            for read_model, base in bases.items():
                if not await _follow_handover(context, read_model, base, handovers.get(base)):
                    handovers.pop(base, None)
            # After the handovers were read: a switch that ended one is seen here, so a gate
            # opened below opens on the new generation.
            await watcher.check()
            for read_model, gate in context.gates.items():
                if not gate.is_set() and bases[read_model] not in handovers:
                    gate.set()  # switched, or the replay gave up
        except Exception as error:  # noqa: BLE001 - a store down: this loop must go on
            log.warning("could not follow the read-model targets: %s", error)
        await asyncio.sleep(targets.POLL_SECONDS)


async def _follow_handover(
    context: AgentContext, read_model: str, base: str, handover: targets.Handover | None
) -> bool:
    """Pause for `handover` if it asks; False if there is none (any more)."""
    pool = context.models.pool
    if handover is None:
        return False
    if handover.idle_seconds > targets.HANDOVER_TIMEOUT_SECONDS:
        # The replay that asked died: do not stay paused for it.
        log.error(
            "a handover of %s to generation %d was abandoned; resuming",
            read_model,
            handover.generation,
        )
        await targets.cancel_handover(pool, base)
        return False
    gate = context.gates[read_model]
    if handover.state == "pause" and gate.is_set():
        gate.clear()
        while context.busy[read_model]:
            await asyncio.sleep(0.002)
        await targets.answer_paused(
            pool,
            base,
            await context.models.progress.applied(group_of(context.settings, read_model)),
        )
        log.info("%s agents paused for generation %d", read_model, handover.generation)
    return True


async def close_agent_context() -> None:
    global _context
    await _resources.aclose()
    _context = None
