"""Baseline: write_model and chirp_meta as Chirp 0.1.0 created them.

The DDL operations/bootstrap.py ran before there were migrations (SCHEMA_SQL of
commands/postgres_write_model.py and META_SQL of projections/targets.py), word for word,
IF NOT EXISTS included: a database an earlier release prepared in part is completed. One that
has every table is not run through it but stamped at it (operations/migrate.py).

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

WRITE_MODEL = """
CREATE SCHEMA IF NOT EXISTS write_model;
CREATE TABLE IF NOT EXISTS write_model.accounts (
    user_id       bigint PRIMARY KEY,
    username      text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case, as on Twitter.
CREATE UNIQUE INDEX IF NOT EXISTS accounts_username_key
    ON write_model.accounts (lower(username));
CREATE TABLE IF NOT EXISTS write_model.tweets (
    tweet_id  bigint PRIMARY KEY,
    author_id bigint NOT NULL,
    deleted   boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS write_model.idempotency_keys (
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    status      smallint NOT NULL,
    body        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE SEQUENCE IF NOT EXISTS write_model.snowflake_workers;
-- Events sent but not acknowledged in time (commands/write_model.py): sent again until
-- the broker acknowledges them.
CREATE TABLE IF NOT EXISTS write_model.unconfirmed_events (
    event_id   bigint PRIMARY KEY,
    actor      text NOT NULL,
    event      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS unconfirmed_events_by_actor
    ON write_model.unconfirmed_events (actor, event_id);
"""

CHIRP_META = """
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


def upgrade() -> None:
    op.execute(WRITE_MODEL)
    op.execute(CHIRP_META)


def downgrade() -> None:
    # Dropping these would lose what the log cannot give back: accounts, idempotency keys,
    # the outbox's unsent events.
    raise NotImplementedError("the baseline is not undone: it holds what the log cannot rebuild")
