"""Each account's trends region

Why: trends are kept per region as well as globally (docs/trending.md, "Regions"). An
account's region is the country its profile's location names, among the regions the
deployment keeps trends for (CHIRP_TRENDING_REGIONS); the write model holds it so that each
tweet is stamped with its author's region when it is posted (TweetPosted v7), and the
trending job needs nothing but the log. Accounts get one when they next set their location.

A new nullable column: no row is rewritten.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE write_model.accounts ADD COLUMN region text")


def downgrade() -> None:
    op.execute("ALTER TABLE write_model.accounts DROP COLUMN region")
