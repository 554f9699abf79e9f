"""Alembic's environment of the deployment schema set (operations/migrations/schema_sets.py)."""

from alembic import context

from operations.migrations.environment import run

run(context)
