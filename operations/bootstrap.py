"""Prepare a stack's storage: topics on the broker, tables in PostgreSQL, the search index
(idempotent)."""

from __future__ import annotations

import asyncio

import psycopg

from commands import postgres_write_model
from infra.settings import Settings
from projections import targets
from projections.read_models import READ_MODEL_SCHEMAS, search_index
from streams import archive
from streams.admin import ensure_topics
from streams.topics import topic_registry


def prepare_storage(settings: Settings) -> None:
    """Create every topic, table and index that Chirp's processes expect."""
    ensure_topics(settings.bootstrap_servers, topic_registry(settings))
    with psycopg.connect(settings.postgres, autocommit=True) as conn:
        conn.execute(postgres_write_model.SCHEMA_SQL)
        conn.execute(archive.SCHEMA_SQL.format(schema=settings.archive_schema))
        conn.execute(targets.META_SQL)
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

