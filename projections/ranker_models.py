"""The ranked home timeline's published models, in PostgreSQL (`chirp_meta.ranker_models`,
made by migration 0010): `chirp train-ranker --publish` adds a row, and every API process
serves the newest one, swapping to a newer one as soon as it sees it (docs/ranking.md)."""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from projections.ranking import Model, ModelError

log = logging.getLogger("chirp.ranker")

# How often an API process looks for a newly published model.
MODEL_POLL_SECONDS = 2.0


async def publish(pool: AsyncConnectionPool, model: Model) -> None:
    """Make `model` the one every API process serves."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO chirp_meta.ranker_models (version, model) VALUES (%s, %s)",
            (model.version, model.to_json().decode()),
        )


class PublishedModel:
    """The newest published model, as this process last read it (None: none published, or
    none this code can use)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.current: Model | None = None
        self._seq = 0

    async def refresh(self) -> None:
        """Read the newest row if it is newer than the one held; a model this code cannot
        use is logged and skipped, and the one held stays."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT seq, model::text FROM chirp_meta.ranker_models"
                    " WHERE seq > %s ORDER BY seq DESC LIMIT 1",
                    (self._seq,),
                )
            ).fetchone()
        if row is None:
            return
        seq, raw = row
        self._seq = seq
        try:
            model = Model.from_json(raw)
        except ModelError as error:
            log.error("published ranker model %d cannot be served: %s", seq, error)
            return
        if self.current is None or model.version != self.current.version:
            log.info("serving ranker model %s", model.version)
        self.current = model

    async def follow(self) -> None:
        """Refresh every MODEL_POLL_SECONDS, for ever."""
        while True:
            try:
                await self.refresh()
            except Exception as error:  # noqa: BLE001 - a lost connection: try again later
                log.warning("could not read the published ranker model: %s", error)
            await asyncio.sleep(MODEL_POLL_SECONDS)
