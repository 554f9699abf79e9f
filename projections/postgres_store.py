"""What the PostgreSQL read-model adapters share: a pool, a schema name, their DDL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from psycopg_pool import AsyncConnectionPool


class PostgresStore:
    """Base of the PostgreSQL adapters; tables live in `schema`, so a rebuild can use a fresh
    one."""

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


def columns_of(rows: list[tuple], width: int) -> list[list]:
    """Rows as `width` column lists: the arrays that `unnest` takes back into rows."""
    return [[row[column] for row in rows] for column in range(width)]


async def move_counts(
    conn,
    table: str,
    key: str,
    columns: tuple[str, ...],
    deltas: Mapping[int, tuple[int, ...]],
    *,
    floor: bool,
    kept_if: str = "false",
) -> None:
    """Move each row's `columns` of `table` by its deltas (never below 0 if `floor`), creating
    missing rows; then delete the rows whose counts are all 0 (unless `kept_if` holds for
    them): no row means nothing counted, whether the moves came in one batch or in several."""
    deltas = {row_id: delta for row_id, delta in deltas.items() if any(delta)}
    if not deltas:
        return
    ids = sorted(deltas)
    # Rows created and locked in id order, so that concurrent batches cannot deadlock.
    await conn.execute(
        f"INSERT INTO {table} ({key}) SELECT * FROM unnest(%b::bigint[])"
        " ORDER BY 1 ON CONFLICT DO NOTHING",
        (ids,),
    )
    await conn.execute(
        f"SELECT 1 FROM {table} WHERE {key} = ANY(%s) ORDER BY {key} FOR UPDATE", (ids,)
    )
    assignments = (
        f"{column} = greatest(c.{column} + d.{column}, 0)"
        if floor
        else f"{column} = c.{column} + d.{column}"
        for column in columns
    )
    await conn.execute(
        f"UPDATE {table} c SET {', '.join(assignments)}"
        f" FROM unnest(%b::bigint[], {', '.join(['%b::int[]'] * len(columns))})"
        f" AS d(id, {', '.join(columns)}) WHERE c.{key} = d.id",
        (ids, *columns_of([deltas[row_id] for row_id in ids], len(columns))),
    )
    await conn.execute(
        f"DELETE FROM {table} WHERE {key} = ANY(%s) AND NOT ({kept_if})"
        f" AND {' AND '.join(f'{column} = 0' for column in columns)}",
        (ids,),
    )


async def changed(conn, sql: str, params, sign: int) -> list[tuple]:
    """Run a set-based write whose RETURNING names the rows it really changed; each row
    returned, with `sign` (+1 inserted, -1 deleted) after it: what counts move by."""
    return [(*row, sign) for row in await (await conn.execute(sql, params)).fetchall()]
