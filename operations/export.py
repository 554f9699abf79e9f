"""`chirp export`: archived events of a time range, for analysts, as Parquet or JSON lines.

Events are upcast to their current schema version, so one export has one shape per type
whatever version each event was written in. Order: log order within each topic partition
(the archive's). Events this code cannot decode (an unknown type, a newer version) are
left out and counted.

- **jsonl**: one event envelope per line, exactly as `schemas/events.py` encodes it (ids are
  decimal strings).
- **parquet**: columns `event_id`, `actor_id` (int64), `type`, `schema_version`,
  `occurred_at` (timestamp, ms, UTC), `topic`, `partition`, `offset`, `payload` (the
  payload as JSON text), written in row groups of ROW_GROUP events.
"""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from psycopg_pool import AsyncConnectionPool

from infra.settings import Settings
from schemas import events as ev
from streams.archive import ArchivedEvent, PostgresArchive

FORMATS = ("parquet", "jsonl")
ROW_GROUP = 50_000


@dataclass(frozen=True)
class ExportResult:
    exported: int
    skipped: int
    seconds: float


def export_events(settings: Settings, start: datetime | None, end: datetime | None,
                  fmt: str, output: Path | None) -> ExportResult:
    """Write the archived events that occurred in [start, end) to `output` (None: stdout,
    JSON lines only)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if fmt == "parquet" and output is None:
        raise ValueError("a Parquet export needs an output file")
    return asyncio.run(_export(settings, start, end, fmt, output))


async def _export(settings, start, end, fmt, output) -> ExportResult:
    pool = AsyncConnectionPool(settings.postgres, min_size=1, max_size=1, open=False)
    await pool.open(wait=True, timeout=30)
    started = time.monotonic()
    writer = _ParquetWriter(output) if fmt == "parquet" else _JsonLinesWriter(output)
    exported = skipped = 0
    archive = PostgresArchive(pool, settings.archive_schema)
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
                writer.write(archived, event)
                exported += 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        await pool.close()
    return ExportResult(exported, skipped, time.monotonic() - started)


class _JsonLinesWriter:
    def __init__(self, output: Path | None) -> None:
        self.output = output
        self.file = open(output, "wb") if output is not None else sys.stdout.buffer

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
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "Parquet export needs the `export` extra: pip install -e '.[export]'",
                name=error.name) from error

        self.pa, self.output = pa, output
        self.schema = pa.schema([
            ("event_id", pa.int64()), ("type", pa.string()), ("schema_version", pa.int32()),
            ("occurred_at", pa.timestamp("ms", tz="UTC")), ("actor_id", pa.int64()),
            ("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64()),
            ("payload", pa.string())])
        self.writer = pq.ParquetWriter(output, self.schema, compression="zstd")
        self.rows: list[dict] = []

    def write(self, archived: ArchivedEvent, event: ev.Event) -> None:
        envelope = orjson.loads(ev.encode(event))
        self.rows.append({
            "event_id": event.event_id, "type": envelope["type"],
            "schema_version": envelope["schema_version"], "occurred_at": event.occurred_at,
            "actor_id": event.actor_id, "topic": archived.topic, "partition": archived.partition,
            "offset": archived.offset, "payload": orjson.dumps(envelope["payload"]).decode()})
        if len(self.rows) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()

    def abort(self) -> None:
        self.writer.close()
        self.output.unlink(missing_ok=True)
