"""Where each read model lives now: a generation number per read model, in PostgreSQL.

A deployment has four read models that `chirp replay` rebuilds on their own: `core` (graph,
tweet store, engagements, timelines and caches), `search` (the index), `trends` and
`notifications` (with the mentions timeline).
Generation 1 of each is the configured schema, Redis prefix or index; a replay builds
generation n+1 beside it and switches readers over by updating one row: readers and agents
watch the rows (`TargetWatcher`: the API is notified as a switch commits, the agents poll) and
move to the new generation, and no copy is made. A switch is a handover with the live agents
of that read model, so that the new generation continues exactly where the old one stopped:

1. the replay asks the agents to pause (`handovers.state = 'pause'`);
2. the agents finish their batch, stop, and answer with how far they have applied each
   partition (`'paused'`, `positions`);
3. the replay applies the log up to exactly there, then in one transaction points the
   deployment at the new generation and ends the handover;
4. readers and agents see the new generation; the agents go on from where they paused.

The tables (schema `chirp_meta`) are made and changed by the revisions in
operations/migrations/deployment/ (`chirp migrate`, docs/migrations.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import NamedTuple

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from infra.settings import Settings

log = logging.getLogger("chirp.targets")


# How often the agents look at the pointer and at a pending handover.
POLL_SECONDS = 0.05
# Readers (TargetWatcher.run) are told of a switch as it commits, on this channel; they look
# at the pointer every RECHECK_SECONDS too, should a notification be lost with a connection
# (well within the grace before a replay drops the old generation).
SWITCHES_CHANNEL = "chirp_target_switches"
RECHECK_SECONDS = 1.0
# A handover not finished in this long was abandoned (its replay died): the agents resume.
HANDOVER_TIMEOUT_SECONDS = 60.0


class ReadModel(StrEnum):
    """The read models `chirp replay` rebuilds on their own (values as in settings and CLI)."""

    CORE = "core"
    SEARCH = "search"
    TRENDS = "trends"
    NOTIFICATIONS = "notifications"


READ_MODELS = tuple(ReadModel)


def group_of(settings: Settings, read_model: str) -> str:
    """The consumer group whose recorded positions say how far `read_model` is applied."""
    return (
        settings.agent_group
        if read_model == ReadModel.CORE
        else f"{settings.agent_group}-{read_model}"
    )


_GENERATIONS_SQL = "SELECT base, generation FROM chirp_meta.targets WHERE base = ANY(%s)"


def base(settings: Settings, read_model: str) -> str:
    """The row of `read_model` (core keeps the name it had before there were others)."""
    if read_model not in READ_MODELS:
        raise ValueError(f"no read model {read_model!r}: one of {', '.join(READ_MODELS)}")
    return (
        settings.read_schema
        if read_model == ReadModel.CORE
        else f"{settings.read_schema}:{read_model}"
    )


def _at(settings: Settings, rows) -> Settings:
    found = dict(rows)
    return settings.at(
        **{read_model: found.get(base(settings, read_model), 1) for read_model in READ_MODELS}
    )


async def current(pool: AsyncConnectionPool, settings: Settings) -> Settings:
    """`settings` at the generations the deployment uses now."""
    bases = [base(settings, read_model) for read_model in READ_MODELS]
    async with pool.connection() as conn:
        rows = await (await conn.execute(_GENERATIONS_SQL, (bases,))).fetchall()
    return _at(settings, rows)


def current_now(conn, settings: Settings) -> Settings:
    """As current, on a synchronous psycopg connection (start-up, tooling)."""
    bases = [base(settings, read_model) for read_model in READ_MODELS]
    return _at(settings, conn.execute(_GENERATIONS_SQL, (bases,)).fetchall())


class Handover(NamedTuple):
    """A switch under way (module docstring): to `generation`, in `state` 'pause' (asked) or
    'paused' (answered with the agents' `positions`), unchanged for `idle_seconds`."""

    generation: int
    state: str
    positions: dict
    idle_seconds: float


async def pending_handovers(pool: AsyncConnectionPool, bases: list[str]) -> dict[str, Handover]:
    """The handovers under way of these bases, in one query."""
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT base, generation, state, positions,"
                " extract(epoch FROM now() - updated_at)::float8"
                " FROM chirp_meta.handovers WHERE base = ANY(%s)",
                (bases,),
            )
        ).fetchall()
    return {row[0]: Handover(row[1], row[2], row[3] or {}, row[4]) for row in rows}


async def request_pause(pool: AsyncConnectionPool, base: str, generation: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO chirp_meta.handovers (base, generation, state) VALUES (%s, %s, 'pause')"
            " ON CONFLICT (base) DO UPDATE SET generation = excluded.generation,"
            " state = 'pause', positions = NULL, updated_at = now()",
            (base, generation),
        )


async def answer_paused(pool: AsyncConnectionPool, base: str, positions: dict[str, int]) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE chirp_meta.handovers SET state = 'paused', positions = %s, updated_at = now()"
            " WHERE base = %s AND state = 'pause'",
            (orjson.dumps(positions).decode(), base),
        )


class HandoverLost(RuntimeError):
    """The agents gave up waiting for this replay: the handover is no longer there."""


async def switch(pool: AsyncConnectionPool, base: str, generation: int) -> None:
    """Point the deployment at `generation` and end the handover, in one transaction."""
    async with pool.connection() as conn, conn.transaction():
        ended = await (
            await conn.execute(
                "DELETE FROM chirp_meta.handovers WHERE base = %s AND generation = %s"
                " AND state = 'paused' RETURNING 1",
                (base, generation),
            )
        ).fetchone()
        if ended is None:
            raise HandoverLost(f"the handover to generation {generation} was abandoned")
        await conn.execute(
            "INSERT INTO chirp_meta.targets (base, generation) VALUES (%s, %s)"
            " ON CONFLICT (base) DO UPDATE SET generation = excluded.generation,"
            " switched_at = now()",
            (base, generation),
        )
        await conn.execute(f"NOTIFY {SWITCHES_CHANNEL}")  # delivered as this commits


async def cancel_handover(pool: AsyncConnectionPool, base: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM chirp_meta.handovers WHERE base = %s", (base,))


class TargetWatcher:
    """Calls `on_switch(settings, switched)` whenever the deployment switches read models:
    `settings` at the new generations, `switched` the read models that moved."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        on_switch: Callable[[Settings, set[str]], Awaitable[None]],
    ) -> None:
        self.pool, self.settings, self.on_switch = pool, settings, on_switch

    async def run(self) -> None:
        """Check now, then whenever a switch is notified, and every RECHECK_SECONDS."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.settings.postgres, autocommit=True
                ) as listening:
                    await listening.execute(f"LISTEN {SWITCHES_CHANNEL}")
                    while True:  # checked after LISTEN: no switch falls between the two
                        await self.check()
                        async for _ in listening.notifies(timeout=RECHECK_SECONDS, stop_after=1):
                            pass
            except Exception as error:  # noqa: BLE001 - a lost connection: try again later
                log.warning("could not read the read-model target: %s", error)
                await asyncio.sleep(RECHECK_SECONDS)

    async def check(self) -> None:
        now = await current(self.pool, self.settings)
        switched: set[str] = {
            read_model
            for read_model in READ_MODELS
            if now.generation(read_model) != self.settings.generation(read_model)
        }
        if switched:
            for read_model in sorted(switched):
                log.info(
                    "%s read model: generation %d -> %d",
                    read_model,
                    self.settings.generation(read_model),
                    now.generation(read_model),
                )
            await self.on_switch(now, switched)
            self.settings = now
