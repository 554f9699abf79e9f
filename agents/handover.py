"""The agents' side of a replay's handover (projections/targets.py), with any number of
workers: each pauses a read model's agents when asked, and the handover is answered with how
far they got once every live worker has paused; after the switch each moves to the new
generation.

Every worker records itself among the deployment's workers (projections/redis_agent_workers.py)
before it looks for a handover, and applies nothing before it has looked once (its gates start
closed): so a worker that joins during a handover pauses too, and one that joined before it
was asked is waited for. A worker that dies unpaused is waited for until its heartbeats are
WORKER_TIMEOUT_SECONDS old.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agents.context import AgentContext
from infra.settings import Settings
from projections import targets
from projections.read_models import build_read_models, search_index
from projections.redis_agent_workers import RedisAgentWorkers
from projections.targets import ReadModel, group_of

log = logging.getLogger("chirp.agents")

# Heartbeats: a few in each WORKER_TIMEOUT_SECONDS.
HEARTBEAT_SECONDS = 1.0


async def follow_targets(context: AgentContext) -> None:
    """Pause a read model's agents when a replay asks, answer once every worker has, and move
    to a new generation once switched; beat this worker's heartbeat meanwhile."""
    pool = context.models.pool
    workers = context.workers
    assert workers is not None  # a live worker's context has them

    async def switch(settings: Settings, switched: set[str]) -> None:
        if ReadModel.SEARCH in switched and context.search is not None:
            fresh = search_index(settings, writable=True)
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
    beaten = 0.0
    try:
        while True:
            try:
                if time.monotonic() - beaten >= HEARTBEAT_SECONDS:
                    await workers.heartbeat(context.worker)
                    beaten = time.monotonic()
                handovers = await targets.pending_handovers(pool, list(bases.values()))
                for read_model, base in bases.items():
                    if not await _follow_handover(
                        context, workers, read_model, base, handovers.get(base)
                    ):
                        handovers.pop(base, None)
                # After the handovers were read: a switch that ended one is seen here, so a
                # gate opened below opens on the new generation.
                await watcher.check()
                for read_model, gate in context.gates.items():
                    if not gate.is_set() and bases[read_model] not in handovers:
                        context.paused_for.pop(read_model, None)
                        gate.set()  # switched, the replay gave up, or none was under way
            except Exception as error:  # noqa: BLE001 - a store down: this loop must go on
                log.warning("could not follow the read-model targets: %s", error)
            await asyncio.sleep(targets.POLL_SECONDS)
    finally:
        try:
            await asyncio.shield(workers.leave(context.worker))
        except Exception as error:  # noqa: BLE001 - it expires anyway
            log.info("could not leave the agents workers: %s", error)


async def _follow_handover(
    context: AgentContext,
    workers: RedisAgentWorkers,
    read_model: str,
    base: str,
    handover: targets.Handover | None,
) -> bool:
    """Pause for `handover` if there is one, and answer it if every worker has; False if
    there is none (any more)."""
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
    if context.paused_for.get(read_model) != handover.generation:
        # Asked ("pause") or answered by the others already ("paused"): either way this
        # worker applies nothing more to the generation being replaced.
        context.gates[read_model].clear()
        while context.busy[read_model]:
            await asyncio.sleep(0.002)
        await workers.pause(context.worker, base, handover.generation)
        context.paused_for[read_model] = handover.generation
        log.info("%s agents paused for generation %d", read_model, handover.generation)
    if handover.state == "pause" and await workers.all_paused(base, handover.generation):
        # Nothing is applied anywhere now: the recorded positions are where every worker
        # stopped. Any of them may answer; the answers are the same.
        await targets.answer_paused(
            pool,
            base,
            await context.models.progress.applied(group_of(context.settings, read_model)),
        )
    return True
