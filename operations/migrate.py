"""`chirp migrate`: bring the schemas the log cannot rebuild to their newest revision
(operations/migrations/, docs/migrations.md). `prepare_storage` runs it at every start.

Each schema set migrates in one transaction (PostgreSQL's DDL is transactional: a revision
that fails leaves the set as it was), under an advisory lock, so processes that start at once
migrate one after another: the second finds the work done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from infra.settings import Settings
from operations.migrations.schema_sets import BASELINE, SchemaSet, schema_sets


@dataclass
class Migrated:
    """What `upgrade` did to one schema set: from revision `before` (None: unversioned) to
    `after`; `stamped` at the baseline when found prepared before migrations; `applied`
    revisions, each with its docstring's first line."""

    schema_set: SchemaSet
    before: str | None = None
    after: str | None = None
    stamped: bool = False
    applied: list[str] = field(default_factory=list)

    def report(self) -> str:
        done = []
        if self.stamped:
            done.append(f"its tables of a release before migrations found: stamped at {BASELINE}")
        if self.applied:
            start = self.before or (BASELINE if self.stamped else "empty")
            done.append(f"{start} -> {self.after}: applied " + "; ".join(self.applied))
        return f"{self.schema_set}: " + (
            "; ".join(done) or f"at {self.after}, the head: nothing to do"
        )


@dataclass(frozen=True)
class Status:
    """Where a schema set stands: its `current` revision (None: unversioned), its `head`, and
    whether an unversioned one holds the tables of a release before migrations."""

    schema_set: SchemaSet
    current: str | None
    head: str
    prepared_before_migrations: bool

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def report(self) -> str:
        if self.at_head:
            where = "up to date"
        elif self.current is not None:
            where = "behind: `chirp migrate` upgrades it"
        elif self.prepared_before_migrations:
            where = (
                f"prepared before migrations: `chirp migrate` stamps it at {BASELINE}"
                " and upgrades it"
            )
        else:
            where = "empty: `chirp migrate` creates it"
        return f"{self.schema_set}: at {self.current or 'no revision'}, head {self.head}; {where}"


def migrate(settings: Settings) -> list[Migrated]:
    """Bring every schema set of the deployment `settings` describe to its head."""
    return [upgrade(settings.postgres, schema_set) for schema_set in schema_sets(settings)]


def status(settings: Settings) -> list[Status]:
    """Where each schema set of the deployment stands; changes nothing."""
    return [status_of(settings.postgres, schema_set) for schema_set in schema_sets(settings)]


def upgrade(dsn: str, schema_set: SchemaSet) -> Migrated:
    """Bring `schema_set` in the database at `dsn` to its head; a set prepared before
    migrations is stamped at the baseline first, not created again."""
    migrated = Migrated(schema_set)

    def applied(step, **_) -> None:
        if step.is_upgrade and not step.is_stamp:
            migrated.applied.append(f"{step.up_revision_id} ({step.up_revision.doc.rstrip('.')})")

    engine = _engine(dsn)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"chirp migrations {schema_set.version_schema}"},
            )
            # alembic creates its version table, not the schema that holds it.
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema_set.version_schema}")
            migrated.before = _revision(connection, schema_set)
            config = _config(schema_set, connection, on_version_apply=applied)
            if migrated.before is None and _prepared_before_migrations(connection, schema_set):
                command.stamp(config, BASELINE)
                migrated.stamped = True
            command.upgrade(config, "head")
            migrated.after = _revision(connection, schema_set)
    finally:
        engine.dispose()
    return migrated


def status_of(dsn: str, schema_set: SchemaSet) -> Status:
    """Where `schema_set` stands in the database at `dsn`; changes nothing."""
    engine = _engine(dsn)
    try:
        with engine.connect() as connection:
            current = _revision(connection, schema_set)
            prepared = current is None and _prepared_before_migrations(connection, schema_set)
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(_config(schema_set)).get_current_head()
    assert head is not None, f"{schema_set.directory} has no revision"
    return Status(schema_set, current, head, prepared)


def _engine(dsn: str) -> Engine:
    # psycopg 3 reads the DSN as the rest of Chirp does (a URL or key=value pairs); SQLAlchemy
    # only needs its dialect for it. One connection, closed when done.
    return create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool
    )


def _config(schema_set: SchemaSet, connection: Connection | None = None, **attributes) -> Config:
    config = Config()
    config.set_main_option("script_location", str(schema_set.directory))
    config.attributes.update(schema_set=schema_set, connection=connection, **attributes)
    return config


def _revision(connection: Connection, schema_set: SchemaSet) -> str | None:
    context = MigrationContext.configure(
        connection, opts={"version_table_schema": schema_set.version_schema}
    )
    return context.get_current_revision()


def _prepared_before_migrations(connection: Connection, schema_set: SchemaSet) -> bool:
    """Every table of the baseline is there (a release before migrations made them)."""
    missing = connection.execute(
        text(
            "SELECT count(*) FROM unnest(CAST(:tables AS text[])) AS t(name)"
            " WHERE to_regclass(t.name) IS NULL"
        ),
        {"tables": list(schema_set.baseline_tables)},
    ).scalar_one()
    return missing == 0
