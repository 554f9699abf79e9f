"""Baseline: the archive schema as Chirp 0.1.0 created it.

The DDL of streams/archive.py's SCHEMA_SQL before there were migrations, word for word,
IF NOT EXISTS included: an archive an earlier release prepared in part is completed. One that
has both tables is not run through it but stamped at it (operations/migrate.py). The monthly
partitions of `events` are not part of the schema: the archive creates them as events arrive.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ARCHIVE = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.events (
    event_id       bigint NOT NULL,
    occurred_at    timestamptz NOT NULL,
    type           text NOT NULL,
    schema_version integer NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    "offset"       bigint NOT NULL,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    key            bytea,
    value          bytea NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id)
) PARTITION BY RANGE (event_id);
CREATE INDEX IF NOT EXISTS events_by_time ON {schema}.events (occurred_at);
CREATE INDEX IF NOT EXISTS events_in_log_order ON {schema}.events (topic, partition, seq);
CREATE TABLE IF NOT EXISTS {schema}.positions (
    topic     text NOT NULL,
    partition integer NOT NULL,
    "offset"  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def upgrade(schema: str) -> None:
    op.execute(ARCHIVE.format(schema=schema))


def downgrade(schema: str) -> None:
    # Dropping the archive would lose every event beyond the log's retention.
    raise NotImplementedError("the baseline is not undone: the archive is the log's only copy")
