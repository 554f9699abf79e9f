"""Media: which tweet each upload is attached to, when that tweet was deleted, and removal

Why: a post attaches uploads (`media_ids`), and each may be attached once: the write model
must know, strongly and under a row lock, whether an upload is taken. Deleting a tweet
releases its uploads, whose files are removed after a grace period; uploads never attached
expire. The sweeper (commands/media_sweeper.py) finds both by the indexes below, marks an
upload removed (MediaDeleted) before its files go, and drops the row once they are gone.

New nullable columns and a constant default: no existing row is rewritten; every upload so
far reads as not attached, not released and not removed, which is what it was.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE write_model.media"
        " ADD COLUMN attached_to bigint,"
        " ADD COLUMN released_at timestamptz,"
        " ADD COLUMN removed boolean NOT NULL DEFAULT false"
    )
    op.execute("CREATE INDEX media_by_tweet ON write_model.media (attached_to)")
    op.execute(
        "CREATE INDEX media_unattached ON write_model.media (created_at)"
        " WHERE attached_to IS NULL AND NOT removed"
    )
    op.execute(
        "CREATE INDEX media_released ON write_model.media (released_at)"
        " WHERE released_at IS NOT NULL AND NOT removed"
    )
    op.execute("CREATE INDEX media_removed ON write_model.media (media_id) WHERE removed")


def downgrade() -> None:
    op.execute("DROP INDEX write_model.media_removed")
    op.execute("DROP INDEX write_model.media_released")
    op.execute("DROP INDEX write_model.media_unattached")
    op.execute("DROP INDEX write_model.media_by_tweet")
    op.execute(
        "ALTER TABLE write_model.media"
        " DROP COLUMN removed, DROP COLUMN released_at, DROP COLUMN attached_to"
    )
