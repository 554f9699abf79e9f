"""Alembic's environment of the deployment schema set (operations/migrations/schema_sets.py)."""

from alembic import context

from operations.migrations.environment import run

# alembic.context is a module that stands for the EnvironmentContext of the command run
run(context)  # type: ignore[arg-type]
