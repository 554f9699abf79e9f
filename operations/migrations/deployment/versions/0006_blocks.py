"""Blocks, and the order of each pair's follows and blocks

Why: a block is checked strongly before a follow, a reply, a quote, a like or a retweet is
accepted (commands/rules.py), so the write model must hold who blocks whom. A follow and a
block of one pair of users are decided one at a time under a lock on the pair, and the graph
projection orders them by their event ids (a block ends the follows made before it, and no
follow can come after it): `pairs` keeps each pair's last follow or block event, and a new
one gets a later id even when another API process's clock runs ahead.

New tables only: nothing existing is rewritten. Follows made before this revision have no
`pairs` row, which reads as "no event yet": a later block still gets a later id than them,
as every API process's clock has moved on since.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE write_model.blocks ("
        " blocker_id bigint NOT NULL,"
        " blocked_id bigint NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (blocker_id, blocked_id))"
    )
    op.execute("CREATE INDEX blocks_by_blocked ON write_model.blocks (blocked_id)")
    op.execute(
        "CREATE TABLE write_model.pairs ("
        " low_id bigint NOT NULL,"
        " high_id bigint NOT NULL,"
        " last_event bigint NOT NULL,"
        " PRIMARY KEY (low_id, high_id))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE write_model.pairs")
    op.execute("DROP TABLE write_model.blocks")
