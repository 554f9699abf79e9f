"""What is migrated: two schema sets, each with its own chain of revisions and version table.

- **deployment**: schemas `write_model` and `chirp_meta`, whose names are fixed: one set per
  database. Version table `chirp_meta.alembic_version`.
- **archive**: the archive schema, named by `CHIRP_ARCHIVE_SCHEMA` (tests use one per test):
  one set per archive schema. Version table `<archive schema>.alembic_version`, so a schema
  of another name starts from the first revision, and dropping the schema drops its version.
  Its revisions take the schema's name (`upgrade(schema)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from infra.settings import Settings

HERE = Path(__file__).parent
# Both sets' first revision: the schema as it was before migrations (Chirp 0.1.0).
BASELINE = "0001"


@dataclass(frozen=True)
class SchemaSet:
    """Schemas migrated together by one chain of revisions (`directory`), versioned in
    `<version_schema>.alembic_version`; a database prepared before migrations has all of
    `baseline_tables`."""

    name: str
    schemas: tuple[str, ...]
    version_schema: str
    baseline_tables: tuple[str, ...]
    # Handed to each revision's upgrade() and downgrade().
    arguments: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return HERE / self.name

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.schemas)})"


def deployment() -> SchemaSet:
    return SchemaSet(
        name="deployment",
        schemas=("write_model", "chirp_meta"),
        version_schema="chirp_meta",
        baseline_tables=(
            "write_model.accounts",
            "write_model.tweets",
            "write_model.idempotency_keys",
            "write_model.snowflake_workers",
            "write_model.unconfirmed_events",
            "chirp_meta.targets",
            "chirp_meta.handovers",
        ),
    )


def archive(schema: str) -> SchemaSet:
    # The name goes into DDL as it is: the pattern of Settings.archive_schema keeps it plain.
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    return SchemaSet(
        name="archive",
        schemas=(schema,),
        version_schema=schema,
        baseline_tables=(f"{schema}.events", f"{schema}.positions"),
        arguments={"schema": schema},
    )


def schema_sets(settings: Settings) -> list[SchemaSet]:
    """The schema sets of the deployment `settings` describe, in the order they migrate."""
    return [deployment(), archive(settings.archive_schema)]
