"""`chirp export`: archived events of a time range, for analysts, as Parquet or JSON lines.

Events are upcast to their current schema version, so one export has one shape per type
whatever version each event was written in. Order: log order within each topic partition
(the archive's). Events this code cannot decode (an unknown type, a newer version) are
left out and counted.

Personal fields sealed under their owner's key (schemas/sealing.py) are exported in the
clear while the account lives; a deleted account's stay sealed: empty fields and `sealed`
ciphertext no one can open (docs/safety.md).

- **jsonl**: one event envelope per line, exactly as `schemas/events.py` encodes it (ids are
  decimal strings).
- **parquet**: a directory with one file per event type, `<Type>.parquet`: the envelope
  columns, then the type's fields as typed columns (operations/event_tables.py), written in
  row groups; at most ROW_GROUP events are held in memory.
"""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from infra.settings import Settings
from schemas import events as ev
from schemas import sealing
from streams.archive import ArchivedEvent, PostgresArchive

FORMATS = ("parquet", "jsonl")
ROW_GROUP = 50_000
# Events whose keys are read in one query.
KEYS_CHUNK = 1000


@dataclass(frozen=True)
class ExportResult:
    exported: int
    skipped: int
    seconds: float


def export_events(
    settings: Settings, start: datetime | None, end: datetime | None, fmt: str, output: Path | None
) -> ExportResult:
    """Write the archived events that occurred in [start, end) to `output` (None: stdout,
    JSON lines only)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if fmt == "parquet" and output is None:
        raise ValueError("a Parquet export needs an output directory")
    if fmt == "parquet" and output is not None and output.is_file():
        raise ValueError(
            f"a Parquet export writes a directory (a file per event type), and {output} is a file"
        )
    return asyncio.run(_export(settings, start, end, fmt, output))


async def _export(settings, start, end, fmt, output) -> ExportResult:
    # One connection reads the archive, the other the keys that open sealed events.
    pool = AsyncConnectionPool(settings.postgres, min_size=2, max_size=2, open=False)
    await pool.open(wait=True, timeout=30)
    started = time.monotonic()
    writer = _ParquetWriter(output) if fmt == "parquet" else _JsonLinesWriter(output)
    exported = skipped = 0
    archive = PostgresArchive(pool, settings.archive_schema)
    chunk: list[tuple[ArchivedEvent, ev.Event]] = []

    async def flush() -> None:
        for archived, event in await _opened(pool, chunk):
            writer.write(archived, event)
        chunk.clear()

    try:
        # Closed before the pool, so its connection is back when the pool closes, even when
        # the export stops early (a reader that closed standard output).
        async with aclosing(archive.events(start, end)) as events:
            async for archived in events:
                try:
                    event = ev.decode(archived.value)
                except ev.UndecodableEvent:
                    skipped += 1
                    continue
                chunk.append((archived, event))
                exported += 1
                if len(chunk) >= KEYS_CHUNK:
                    await flush()
        await flush()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        await pool.close()
    return ExportResult(exported, skipped, time.monotonic() - started)


async def _opened(
    pool: AsyncConnectionPool, chunk: list[tuple[ArchivedEvent, ev.Event]]
) -> list[tuple[ArchivedEvent, ev.Event]]:
    """The chunk with its sealed events opened where their owner's key exists: a deleted
    account's stay sealed (their personal fields empty, `sealed` ciphertext)."""
    owners = sorted({sealing.owner(event) for _, event in chunk if sealing.is_sealed(event)})
    if not owners:
        return chunk
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id, key FROM write_model.user_keys WHERE user_id = ANY(%s)", (owners,)
        )
        keys = {user: bytes(key) for user, key in await cursor.fetchall()}
    return [(archived, _open(event, keys.get(sealing.owner(event)))) for archived, event in chunk]


def _open(event: ev.Event, key: bytes | None) -> ev.Event:
    return sealing.unseal(event, key) if key is not None and sealing.is_sealed(event) else event


class _JsonLinesWriter:
    def __init__(self, output: Path | None) -> None:
        self.output = output
        # closed by close(), after the last event
        self.file = open(output, "wb") if output is not None else sys.stdout.buffer  # noqa: SIM115

    def write(self, archived: ArchivedEvent, event: ev.Event) -> None:
        self.file.write(ev.encode(event) + b"\n")

    def close(self) -> None:
        self.file.flush()
        if self.output is not None:
            self.file.close()

    def abort(self) -> None:
        # Standard output is left as it is: its reader may be gone (`| head`).
        if self.output is not None:
            self.file.close()
            self.output.unlink(missing_ok=True)


class _ParquetWriter:
    def __init__(self, output: Path) -> None:
        try:
            from operations.event_tables import ParquetTables
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "Parquet export needs the `export` extra: pip install -e '.[export]'",
                name=error.name,
            ) from error

        self.tables = ParquetTables(output, ROW_GROUP)

    def write(self, archived: ArchivedEvent, event: ev.Event) -> None:
        self.tables.write(archived.topic, archived.partition, archived.offset, event)

    def close(self) -> None:
        self.tables.close()

    def abort(self) -> None:
        self.tables.abort()
