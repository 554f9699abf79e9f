"""Protected accounts and follow requests

Why: a protected account approves its followers. Whether an account is protected decides,
strongly and at once, whether a follow is made or waits as a request; the pending requests
are what an approval or a decline acts on, and what a second request finds already there.

A new column with a constant default (no row is rewritten: every account so far is not
protected, which it was not) and a new table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE write_model.accounts ADD COLUMN protected boolean NOT NULL DEFAULT false"
    )
    op.execute(
        "CREATE TABLE write_model.follow_requests ("
        " follower_id bigint NOT NULL,"
        " followee_id bigint NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (follower_id, followee_id))"
    )
    op.execute(
        "CREATE INDEX follow_requests_by_followee ON write_model.follow_requests (followee_id)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE write_model.follow_requests")
    op.execute("ALTER TABLE write_model.accounts DROP COLUMN protected")
