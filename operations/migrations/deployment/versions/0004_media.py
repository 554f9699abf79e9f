"""Media uploads: who reserved each media id, what was declared, whether its bytes were taken

Why: `POST /api/v1/media` hands out an id and a presigned upload URL before any byte arrives,
and completing the upload (`MediaUploaded`) must know, strongly, whose id it is and what size
was declared, and must emit its event once however often a client retries
(docs/media.md). Nothing here can wait for a projection. A new table: no row of an older
release changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE write_model.media ("
        " media_id bigint PRIMARY KEY,"
        " owner_id bigint NOT NULL,"
        " declared_type text NOT NULL,"
        " declared_bytes bigint NOT NULL,"
        " uploaded boolean NOT NULL DEFAULT false,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    op.execute("DROP TABLE write_model.media")
