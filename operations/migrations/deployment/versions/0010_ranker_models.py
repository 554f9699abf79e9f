"""The ranked home timeline's published models

Why: `chirp train-ranker --publish` hands a trained model to every API process
(docs/ranking.md): the processes watch this table and swap to the newest version without a
restart. Each row is one version, kept: publishing an older file again is a new row, and the
history says which model served when.

A new table: no row is rewritten.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE chirp_meta.ranker_models ("
        " seq bigserial PRIMARY KEY,"
        " version text NOT NULL,"
        " model jsonb NOT NULL,"
        " published_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    op.execute("DROP TABLE chirp_meta.ranker_models")
