"""Outbox: index unconfirmed_events by created_at, for the relay's look for old events

Why: the relay in every API process asks once a second which actors have outbox events older
than the resend age (`actors_with_unconfirmed` in commands/postgres_write_model.py:
`created_at < now() - ...`). No index served that filter, so each look read the whole outbox
to find, while the broker is well, nothing. The outbox grows when the broker is slow
(events wait for their acknowledgement) or away (every write is kept): measured on
PostgreSQL 15 with 20,000 young outbox rows and none old, the look took 5.2 ms without this
index and 0.23 ms with it, and without it grows with the outbox. A few rows cost the same
either way. The price is one more index entry per outbox row, made and removed with it.

A plain CREATE INDEX: it holds the outbox's write lock while it builds, which on a table of
events in flight takes milliseconds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX unconfirmed_events_by_time ON write_model.unconfirmed_events (created_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX write_model.unconfirmed_events_by_time")
