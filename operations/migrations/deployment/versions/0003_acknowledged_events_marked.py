"""Outbox: a durable "acknowledged" mark on unconfirmed_events

Why: with CHIRP_OUTBOX_UNTIL_ARCHIVED an acknowledged event stays in the outbox until the
archive holds it, so a restart of a stack whose broker lost its log (the local one keeps it
in memory) can still send it. Until now only the API process that sent the event knew it was
acknowledged; the relays of the other API processes saw an old outbox row and sent it again,
once a second, for as long as the archive lagged (the suite saw events seven times on the
log). With the mark in the table every relay skips acknowledged events; the log restore
(`operations/durability.py`) clears the marks, since after it only the outbox holds them.

Adding a NOT NULL column with a constant default rewrites nothing on PostgreSQL 11 and later:
existing rows read the default (false: not acknowledged, so sent again if old enough, which is
what the outbox did for them before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE write_model.unconfirmed_events"
        " ADD COLUMN acknowledged boolean NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE write_model.unconfirmed_events DROP COLUMN acknowledged")
