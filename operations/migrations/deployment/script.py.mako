"""${message}

Why: the query or the fact this change serves (docs/migrations.md, "Adding a revision").

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from alembic import op

revision = "${up_revision}"
down_revision = ${'"%s"' % down_revision if down_revision else "None"}
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "op.execute(...)"}


def downgrade() -> None:
    ${downgrades if downgrades else "op.execute(...)"}
