"""Where the core read models live now: a generation number per deployment, in PostgreSQL.

Generation 1 is the configured schema and Redis prefix; `chirp replay core` builds generation
n+1 beside it (`<schema>_g<n>`, `<prefix>g<n>:`) and switches readers over by updating one
row: readers and agents watch it (`TargetWatcher`) and move to the new generation, and no
copy is made. A switch is a handover with the live agents, so that the new generation
continues exactly where the old one stopped:

1. the replay asks the agents to pause (`handovers.state = 'pause'`);
2. the agents finish their batch, stop, and answer with how far they have applied each
   partition (`'paused'`, `positions`);
3. the replay applies the log up to exactly there, then in one transaction points the
   deployment at the new generation and ends the handover;
4. readers and agents see the new generation; the agents go on from where they paused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("chirp.targets")

META_SQL = """
CREATE SCHEMA IF NOT EXISTS chirp_meta;
CREATE TABLE IF NOT EXISTS chirp_meta.targets (
    base        text PRIMARY KEY,
    generation  integer NOT NULL,
    switched_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS chirp_meta.handovers (
    base       text PRIMARY KEY,
    generation integer NOT NULL,
    state      text NOT NULL CHECK (state IN ('pause', 'paused')),
    positions  jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

# How often readers and agents look at the pointer and at a pending handover.
POLL_SECONDS = 0.05
# A handover not finished in this long was abandoned (its replay died): the agents resume.
HANDOVER_TIMEOUT_SECONDS = 60.0


_GENERATION_SQL = "SELECT generation FROM chirp_meta.targets WHERE base = %s"


async def core_generation(pool: AsyncConnectionPool, base: str) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute(_GENERATION_SQL, (base,))).fetchone()
    return row[0] if row else 1


def core_generation_now(conn, base: str) -> int:
    """As core_generation, on a synchronous psycopg connection (start-up, tooling)."""
    row = conn.execute(_GENERATION_SQL, (base,)).fetchone()
    return row[0] if row else 1


async def pending_handover(pool: AsyncConnectionPool,
                           base: str) -> tuple[int, str, dict, float] | None:
    """(generation, state, positions, seconds since it last changed), or None."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT generation, state, positions,"
            " extract(epoch FROM now() - updated_at)::float8"
            " FROM chirp_meta.handovers WHERE base = %s", (base,))).fetchone()
    return None if row is None else (row[0], row[1], row[2] or {}, row[3])


async def request_pause(pool: AsyncConnectionPool, base: str, generation: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO chirp_meta.handovers (base, generation, state) VALUES (%s, %s, 'pause')"
            " ON CONFLICT (base) DO UPDATE SET generation = excluded.generation,"
            " state = 'pause', positions = NULL, updated_at = now()", (base, generation))


async def answer_paused(pool: AsyncConnectionPool, base: str,
                        positions: dict[str, int]) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE chirp_meta.handovers SET state = 'paused', positions = %s, updated_at = now()"
            " WHERE base = %s AND state = 'pause'", (orjson.dumps(positions).decode(), base))


class HandoverLost(RuntimeError):
    """The agents gave up waiting for this replay: the handover is no longer there."""


async def switch(pool: AsyncConnectionPool, base: str, generation: int) -> None:
    """Point the deployment at `generation` and end the handover, in one transaction."""
    async with pool.connection() as conn, conn.transaction():
        ended = await (await conn.execute(
            "DELETE FROM chirp_meta.handovers WHERE base = %s AND generation = %s"
            " AND state = 'paused' RETURNING 1", (base, generation))).fetchone()
        if ended is None:
            raise HandoverLost(f"the handover to generation {generation} was abandoned")
        await conn.execute(
            "INSERT INTO chirp_meta.targets (base, generation) VALUES (%s, %s)"
            " ON CONFLICT (base) DO UPDATE SET generation = excluded.generation,"
            " switched_at = now()", (base, generation))


async def cancel_handover(pool: AsyncConnectionPool, base: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM chirp_meta.handovers WHERE base = %s", (base,))


class TargetWatcher:
    """Calls `on_switch(generation)` whenever the deployment's core generation changes."""

    def __init__(self, pool: AsyncConnectionPool, base: str, generation: int,
                 on_switch: Callable[[int], Awaitable[None]]) -> None:
        self.pool, self.base, self.generation = pool, base, generation
        self.on_switch = on_switch

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as error:  # noqa: BLE001 - a lost connection: try again later
                log.warning("could not read the read-model target: %s", error)
            await asyncio.sleep(POLL_SECONDS)

    async def check(self) -> None:
        current = await core_generation(self.pool, self.base)
        if current != self.generation:
            log.info("core read models: generation %d -> %d", self.generation, current)
            await self.on_switch(current)
            self.generation = current
