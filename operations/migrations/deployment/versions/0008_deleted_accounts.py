"""Deleted accounts, and each account's key for its personal data in events

Why: a user may delete their account (DELETE /api/v1/users/me). The account's row stays,
marked deleted: its tokens stop working, it cannot log in, and its username stays reserved
for a period (CHIRP_DELETED_USERNAME_HOLD_DAYS) before another account may take it. The
agents look up, once per batch, which of the users a batch names are deleted (a partial
index holds only those, so the look-up stays small whatever the number of accounts).

The personal data in an account's events (tweets' content, the profile's names and bio) is
sealed with a key of its own (AES-256-GCM), kept here and nowhere else; deleting the account
deletes the key, and what the log and its archive hold of that data can then be read by no
one (crypto-shredding, docs/safety.md). Accounts made before this revision have no key:
their events stay readable as they were written.

A new nullable column (no row is rewritten), an index over no row yet, and a new table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE write_model.accounts ADD COLUMN deleted_at timestamptz")
    op.execute(
        "CREATE INDEX accounts_deleted ON write_model.accounts (user_id)"
        " WHERE deleted_at IS NOT NULL"
    )
    op.execute(
        "CREATE TABLE write_model.user_keys ("
        " user_id bigint PRIMARY KEY,"
        " key bytea NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )


def downgrade() -> None:
    op.execute("DROP TABLE write_model.user_keys")
    op.execute("DROP INDEX write_model.accounts_deleted")
    op.execute("ALTER TABLE write_model.accounts DROP COLUMN deleted_at")
