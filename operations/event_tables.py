"""Events as Arrow tables, one per event type, for `chirp export --format parquet`.

A table's columns are the envelope's, then the event model's own fields (schemas/events.py),
typed from the model's annotations: a new event type or field gets its columns with no
schema written by hand, and an annotation with no Arrow type here is refused loudly.
"""

from __future__ import annotations

import contextlib
import types
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from schemas import events as ev

# Every table starts with these: the envelope and where the event was first read.
ENVELOPE_COLUMNS = (
    pa.field("event_id", pa.int64(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("schema_version", pa.int32(), nullable=False),
    pa.field("occurred_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("actor_id", pa.int64(), nullable=False),
    pa.field("topic", pa.string(), nullable=False),
    pa.field("partition", pa.int32(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
)
_ENVELOPE_NAMES = frozenset(column.name for column in ENVELOPE_COLUMNS)
# Ids are 64-bit integers (schemas/types.py): int64, as in the archive.
_SCALARS: dict[Any, pa.DataType] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    datetime: pa.timestamp("ms", tz="UTC"),
}


def arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of a model field's annotation, and whether it may be null."""
    if get_origin(annotation) is Annotated:
        return arrow_type(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(others) != 1:
            raise TypeError(f"no Arrow type for the union {annotation!r}")
        return arrow_type(others[0])[0], True
    if get_origin(annotation) in (tuple, list):
        items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(set(items)) != 1:
            raise TypeError(f"no Arrow type for {annotation!r}: not a sequence of one type")
        return pa.list_(arrow_type(items[0])[0]), False
    if annotation in _SCALARS:
        return _SCALARS[annotation], False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # A value of the event (a media rendition): a struct of its fields.
        members = []
        for name, info in annotation.model_fields.items():
            data_type, nullable = arrow_type(info.annotation)
            members.append(pa.field(name, data_type, nullable=nullable))
        return pa.struct(members), False
    raise TypeError(f"no Arrow type for {annotation!r}: add one in operations/event_tables.py")


def table_schema(event_type: type[ev.Event]) -> pa.Schema:
    """The envelope columns, then one column per payload field of `event_type`."""
    fields = list(ENVELOPE_COLUMNS)
    for name, info in event_type.model_fields.items():
        if name in ev.Event.envelope_fields:
            continue
        if name in _ENVELOPE_NAMES:
            raise TypeError(f"{event_type.type_name()}.{name} would shadow an envelope column")
        data_type, nullable = arrow_type(info.annotation)
        fields.append(pa.field(name, data_type, nullable=nullable))
    return pa.schema(fields)


class ParquetTables:
    """One Parquet file per event type, `<directory>/<Type>.parquet`, every known type's file
    written even when no event of it came, so a query of a quiet range finds its table.

    Memory stays flat: when the buffers together hold `row_group` events, the fullest is
    written as a row group (so row groups hold at least row_group / the number of types)."""

    def __init__(self, directory: Path, row_group: int) -> None:
        self.directory, self.row_group = directory, row_group
        self.created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        self.schemas = {name: table_schema(cls) for name, cls in ev.EVENT_TYPES.items()}
        self.writers: dict[str, pq.ParquetWriter] = {}
        for name, schema in self.schemas.items():
            self.writers[name] = pq.ParquetWriter(self.path(name), schema, compression="zstd")
        self.rows: dict[str, list[tuple[str, int, int, ev.Event]]] = defaultdict(list)
        self.buffered = 0

    def path(self, type_name: str) -> Path:
        return self.directory / f"{type_name}.parquet"

    def write(self, topic: str, partition: int, offset: int, event: ev.Event) -> None:
        self.rows[event.type_name()].append((topic, partition, offset, event))
        self.buffered += 1
        if self.buffered >= self.row_group:
            self._flush(max(self.rows, key=lambda name: len(self.rows[name])))

    def _flush(self, type_name: str) -> None:
        rows = self.rows.pop(type_name, [])
        if not rows:
            return
        schema = self.schemas[type_name]
        columns: dict[str, list] = {
            "topic": [topic for topic, _, _, _ in rows],
            "partition": [partition for _, partition, _, _ in rows],
            "offset": [offset for _, _, offset, _ in rows],
            "type": [type_name] * len(rows),
            "schema_version": [event.schema_version for *_, event in rows],
        }
        for name in schema.names:
            if name not in columns:
                columns[name] = [_plain(getattr(event, name)) for *_, event in rows]
        self.writers[type_name].write_table(pa.Table.from_pydict(columns, schema=schema))
        self.buffered -= len(rows)

    def close(self) -> None:
        for type_name in list(self.rows):
            self._flush(type_name)
        for writer in self.writers.values():
            writer.close()

    def abort(self) -> None:
        """Close and remove every file written (and the directory, if this made it)."""
        for type_name, writer in self.writers.items():
            writer.close()
            self.path(type_name).unlink(missing_ok=True)
        if self.created:
            with contextlib.suppress(OSError):
                self.directory.rmdir()


def _plain(value: Any) -> Any:
    """A field's value as Arrow takes it: a model as a dict of its fields."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
