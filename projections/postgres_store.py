"""What the PostgreSQL read-model adapters share: a pool, a schema name, their DDL."""

from __future__ import annotations

from typing import ClassVar

from psycopg_pool import AsyncConnectionPool


class PostgresStore:
    """Base of the PostgreSQL adapters; tables live in `schema`, so a rebuild can use a fresh one."""

    schema_sql: ClassVar[str]

    def __init__(self, pool: AsyncConnectionPool, schema: str = "read_model") -> None:
        self.pool = pool
        self.schema = schema

    async def setup(self) -> None:
        """Create this store's tables if they are missing."""
        async with self.pool.connection() as conn:
            await conn.execute(self.schema_sql.format(schema=self.schema))

    async def _ids(self, sql: str, params: tuple) -> list[int]:
        async with self.pool.connection() as conn:
            return [row[0] for row in await (await conn.execute(sql, params)).fetchall()]
