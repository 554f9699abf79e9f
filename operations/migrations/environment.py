"""What each schema set's env.py runs: alembic's command, on the connection and in the
transaction that `operations/migrate.py` opened (it holds the migration lock there)."""

from __future__ import annotations

from alembic.runtime.environment import EnvironmentContext
from alembic.util import CommandError


def run(context: EnvironmentContext) -> None:
    """Run the command alembic was given for the schema set in the config's attributes."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise CommandError(
            "Chirp's migrations run through `chirp migrate` (docs/migrations.md): it takes the "
            "migration lock and recognises a database prepared before migrations"
        )
    schema_set = config.attributes["schema_set"]
    context.configure(
        connection=connection,
        version_table_schema=schema_set.version_schema,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations(**schema_set.arguments)
