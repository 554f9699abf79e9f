"""Prepare a stack's storage: topics on the broker, tables in PostgreSQL, the search index
(idempotent)."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from infra.kafka_security import kafka_python_security
from infra.settings import Settings
from operations.migrate import migrate
from projections import targets
from projections.read_models import READ_MODEL_SCHEMAS, search_index
from streams.admin import ensure_topics
from streams.topics import topic_registry

log = logging.getLogger("chirp.bootstrap")


def prepare_storage(settings: Settings) -> None:
    """Create every topic, table and index that Chirp's processes expect: the write model,
    chirp_meta and the archive migrated to their newest revision (operations/migrate.py),
    the read models' tables created as their stores define them."""
    ensure_topics(
        settings.bootstrap_servers, topic_registry(settings), kafka_python_security(settings)
    )
    for migrated in migrate(settings):
        if migrated.stamped or migrated.applied:
            log.info("schema migrations: %s", migrated.report())
    with psycopg.connect(settings.postgres, autocommit=True) as conn:
        current = targets.current_now(conn, settings)
        for ddl in READ_MODEL_SCHEMAS:
            conn.execute(ddl.format(schema=current.core_schema))
    asyncio.run(_create_search_index(current))


async def _create_search_index(settings: Settings) -> None:
    """Here, before any process opens it: no two create it at once."""
    index = search_index(settings, writable=True)
    try:
        await index.setup()
    finally:
        await index.close()
