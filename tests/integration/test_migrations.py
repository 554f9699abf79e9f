"""Schema migrations on the real PostgreSQL: a database of Chirp 0.1.0 (made before there were
migrations) is recognised, stamped and upgraded with every row kept; an empty one is built to
the same schema plus the new revisions; migrating twice, or twice at once, changes nothing
more."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from infra.settings import Settings
from operations.migrate import migrate, upgrade
from operations.migrations.schema_sets import archive

RELEASE_0_1_0 = Path(__file__).parents[1] / "fixtures" / "chirp_0_1_0.sql"
MIGRATED = ["write_model", "chirp_meta", "archive"]
NEW_INDEX = (
    "write_model",
    "unconfirmed_events",
    "unconfirmed_events_by_time",
    (
        "CREATE INDEX unconfirmed_events_by_time ON write_model.unconfirmed_events"
        " USING btree (created_at)"
    ),
)
NEW_COLUMN = (
    "write_model",
    "unconfirmed_events",
    "acknowledged",
    "boolean",
    "NO",
    "false",
    "NO",
    None,
)
# Revision 0004: the media table.
MEDIA_COLUMNS = {
    ("write_model", "media", name, kind, "NO", default, "NO", None)
    for name, kind, default in [
        ("media_id", "bigint", None),
        ("owner_id", "bigint", None),
        ("declared_type", "text", None),
        ("declared_bytes", "bigint", None),
        ("uploaded", "boolean", "false"),
        ("created_at", "timestamp with time zone", "now()"),
        ("removed", "boolean", "false"),  # 0005
    ]
} | {
    # Revision 0005: attachments, released and removed uploads.
    ("write_model", "media", name, kind, "YES", None, "NO", None)
    for name, kind in [("attached_to", "bigint"), ("released_at", "timestamp with time zone")]
}
MEDIA_KEY_INDEX = (
    "write_model",
    "media",
    "media_pkey",
    "CREATE UNIQUE INDEX media_pkey ON write_model.media USING btree (media_id)",
)
MEDIA_INDEXES = {
    ("write_model", "media", name, f"CREATE INDEX {name} ON write_model.media USING btree {rest}")
    for name, rest in [
        ("media_by_tweet", "(attached_to)"),
        ("media_unattached", "(created_at) WHERE ((attached_to IS NULL) AND (NOT removed))"),
        ("media_released", "(released_at) WHERE ((released_at IS NOT NULL) AND (NOT removed))"),
        ("media_removed", "(media_id) WHERE removed"),
    ]
}
# Revision 0006: blocks, and each pair's last follow or block.
PAIR_COLUMNS = {
    ("write_model", table, name, kind, "NO", default, "NO", None)
    for table, name, kind, default in [
        ("blocks", "blocker_id", "bigint", None),
        ("blocks", "blocked_id", "bigint", None),
        ("blocks", "created_at", "timestamp with time zone", "now()"),
        ("pairs", "low_id", "bigint", None),
        ("pairs", "high_id", "bigint", None),
        ("pairs", "last_event", "bigint", None),
    ]
}
PAIR_INDEXES = {
    (
        "write_model",
        "blocks",
        "blocks_pkey",
        "CREATE UNIQUE INDEX blocks_pkey ON write_model.blocks"
        " USING btree (blocker_id, blocked_id)",
    ),
    (
        "write_model",
        "blocks",
        "blocks_by_blocked",
        "CREATE INDEX blocks_by_blocked ON write_model.blocks USING btree (blocked_id)",
    ),
    (
        "write_model",
        "pairs",
        "pairs_pkey",
        "CREATE UNIQUE INDEX pairs_pkey ON write_model.pairs USING btree (low_id, high_id)",
    ),
}
# Revision 0007: protected accounts and follow requests.
PROTECTED_COLUMNS = {
    ("write_model", "accounts", "protected", "boolean", "NO", "false", "NO", None),
} | {
    ("write_model", "follow_requests", name, kind, "NO", default, "NO", None)
    for name, kind, default in [
        ("follower_id", "bigint", None),
        ("followee_id", "bigint", None),
        ("created_at", "timestamp with time zone", "now()"),
    ]
}
REQUEST_INDEXES = {
    (
        "write_model",
        "follow_requests",
        "follow_requests_pkey",
        "CREATE UNIQUE INDEX follow_requests_pkey ON write_model.follow_requests"
        " USING btree (follower_id, followee_id)",
    ),
    (
        "write_model",
        "follow_requests",
        "follow_requests_by_followee",
        "CREATE INDEX follow_requests_by_followee ON write_model.follow_requests"
        " USING btree (followee_id)",
    ),
}
# Revision 0008: deleted accounts, and each account's key.
DELETION_COLUMNS = {
    ("write_model", "accounts", "deleted_at", "timestamp with time zone", "YES", None, "NO", None),
} | {
    ("write_model", "user_keys", name, kind, "NO", default, "NO", None)
    for name, kind, default in [
        ("user_id", "bigint", None),
        ("key", "bytea", None),
        ("created_at", "timestamp with time zone", "now()"),
    ]
}
DELETION_INDEXES = {
    (
        "write_model",
        "accounts",
        "accounts_deleted",
        "CREATE INDEX accounts_deleted ON write_model.accounts USING btree (user_id)"
        " WHERE (deleted_at IS NOT NULL)",
    ),
    (
        "write_model",
        "user_keys",
        "user_keys_pkey",
        "CREATE UNIQUE INDEX user_keys_pkey ON write_model.user_keys USING btree (user_id)",
    ),
}
# Revision 0009: each account's trends region.
REGION_COLUMNS = {("write_model", "accounts", "region", "text", "YES", None, "NO", None)}
# Revision 0010: the ranked home timeline's published models.
RANKER_COLUMNS = {
    ("chirp_meta", "ranker_models", name, kind, "NO", default, "NO", None)
    for name, kind, default in [
        ("seq", "bigint", "nextval('chirp_meta.ranker_models_seq_seq'::regclass)"),
        ("version", "text", None),
        ("model", "jsonb", None),
        ("published_at", "timestamp with time zone", "now()"),
    ]
}
# What the revisions after the baseline (0002 to 0010) add to release 0.1.0's schema.
NEW = {
    "tables": {
        ("chirp_meta", "ranker_models", "r", None),
        ("chirp_meta", "ranker_models_seq_seq", "S", None),
        ("write_model", "media", "r", None),
        ("write_model", "blocks", "r", None),
        ("write_model", "pairs", "r", None),
        ("write_model", "follow_requests", "r", None),
        ("write_model", "user_keys", "r", None),
    },
    "columns": {
        NEW_COLUMN,
        *MEDIA_COLUMNS,
        *PAIR_COLUMNS,
        *PROTECTED_COLUMNS,
        *DELETION_COLUMNS,
        *REGION_COLUMNS,
        *RANKER_COLUMNS,
    },
    "constraints": {
        ("chirp_meta", "ranker_models", "ranker_models_pkey", "PRIMARY KEY (seq)"),
        ("write_model", "media", "media_pkey", "PRIMARY KEY (media_id)"),
        ("write_model", "blocks", "blocks_pkey", "PRIMARY KEY (blocker_id, blocked_id)"),
        ("write_model", "pairs", "pairs_pkey", "PRIMARY KEY (low_id, high_id)"),
        (
            "write_model",
            "follow_requests",
            "follow_requests_pkey",
            "PRIMARY KEY (follower_id, followee_id)",
        ),
        ("write_model", "user_keys", "user_keys_pkey", "PRIMARY KEY (user_id)"),
    },
    "indexes": {
        NEW_INDEX,
        MEDIA_KEY_INDEX,
        *MEDIA_INDEXES,
        *PAIR_INDEXES,
        *REQUEST_INDEXES,
        *DELETION_INDEXES,
        (
            "chirp_meta",
            "ranker_models",
            "ranker_models_pkey",
            "CREATE UNIQUE INDEX ranker_models_pkey ON chirp_meta.ranker_models USING btree (seq)",
        ),
    },
    "sequences": {
        ("chirp_meta", "ranker_models_seq_seq", "bigint", 1, 1, 9223372036854775807, 1),
    },
}
# A schema's shape: rows of the catalog by kind (tables, columns, constraints, indexes, ...).
Shape = dict[str, set[tuple]]


@pytest.fixture
def new_database(stack):
    """Makes empty databases on the session stack's PostgreSQL; returns their DSNs."""
    names: list[str] = []

    def make() -> str:
        names.append(f"migrations_{uuid.uuid4().hex[:8]}")
        with psycopg.connect(stack.settings.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {names[-1]}")
        return conninfo.make_conninfo(stack.settings.postgres, dbname=names[-1])

    yield make
    with psycopg.connect(stack.settings.postgres, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _load_release_0_1_0(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(RELEASE_0_1_0.read_text())


def _chirp_migrate(dsn: str, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"CHIRP_POSTGRES_DSN": dsn, "CHIRP_LOG_FORMAT": "text"}
    return subprocess.run(
        [sys.executable, "-m", "operations.cli", "migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _rows(dsn: str) -> dict[str, list[tuple]]:
    """Every row of every table in the migrated schemas (partitions through their parent),
    and where each sequence stands."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " AND c.relname <> 'alembic_version'",
            (MIGRATED,),
        ).fetchall()
        rows = {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for (table,) in tables
        }
        for schema, name, last in conn.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences"
            " WHERE schemaname = ANY(%s)",
            (MIGRATED,),
        ).fetchall():
            rows[f"{schema}.{name} (sequence)"] = [(last,)]
    return rows


def _schema(dsn: str, schemas: list[str]) -> Shape:
    """The shape of `schemas`: tables, columns, constraints, indexes, sequences and partition
    keys; monthly partitions left out (the archive makes them as events arrive)."""
    queries = {
        "tables": "SELECT n.nspname, c.relname, c.relkind, pg_get_partkeydef(c.oid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'S')"
        " AND NOT c.relispartition",
        "columns": "SELECT c.table_schema, c.table_name, c.column_name, c.data_type,"
        " c.is_nullable, c.column_default, c.is_identity, c.identity_generation"
        " FROM information_schema.columns c JOIN pg_class r"
        " ON r.oid = (quote_ident(c.table_schema) || '.'"
        " || quote_ident(c.table_name))::regclass"
        " WHERE c.table_schema = ANY(%s) AND NOT r.relispartition",
        "constraints": "SELECT n.nspname, r.relname, k.conname, pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = r.relnamespace"
        " WHERE n.nspname = ANY(%s) AND NOT r.relispartition",
        "indexes": "SELECT i.schemaname, i.tablename, i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.oid = (quote_ident(i.schemaname) || '.'"
        " || quote_ident(i.indexname))::regclass"
        " WHERE i.schemaname = ANY(%s) AND NOT c.relispartition",
        "sequences": "SELECT schemaname, sequencename, data_type, start_value, increment_by,"
        " max_value, cache_size FROM pg_sequences WHERE schemaname = ANY(%s)",
    }
    with psycopg.connect(dsn) as conn:
        return {
            kind: set(conn.execute(query, (schemas,)).fetchall()) for kind, query in queries.items()
        }


def _version_tables(schemas: list[str]) -> Shape:
    """What alembic adds: its version table (and the primary key) in each version schema."""
    return {
        "tables": {(schema, "alembic_version", "r", None) for schema in schemas},
        "columns": {
            (schema, "alembic_version", "version_num", "character varying", "NO", None, "NO", None)
            for schema in schemas
        },
        "constraints": {
            (schema, "alembic_version", "alembic_version_pkc", "PRIMARY KEY (version_num)")
            for schema in schemas
        },
        "indexes": {
            (
                schema,
                "alembic_version",
                "alembic_version_pkc",
                (
                    f"CREATE UNIQUE INDEX alembic_version_pkc ON {schema}.alembic_version"
                    " USING btree (version_num)"
                ),
            )
            for schema in schemas
        },
    }


def _plus(schema: Shape, *additions: Shape) -> Shape:
    return {
        kind: rows.union(*(added.get(kind, set()) for added in additions))
        for kind, rows in schema.items()
    }


def _renamed(schema: Shape, old: str, new: str) -> Shape:
    """The part of `schema` in schema `old`, as it would be in schema `new`."""

    def rename(value):
        if value == old:
            return new
        return value.replace(f" {old}.", f" {new}.") if isinstance(value, str) else value

    return {
        kind: {tuple(rename(value) for value in row) for row in rows if row[0] == old}
        for kind, rows in schema.items()
    }


def _versions(dsn: str) -> tuple[str, str]:
    with psycopg.connect(dsn) as conn:
        return tuple(
            conn.execute(f"SELECT version_num FROM {schema}.alembic_version").fetchone()[0]
            for schema in ("chirp_meta", "archive")
        )


def test_a_database_of_release_0_1_0_is_stamped_upgraded_and_keeps_every_row(new_database):
    dsn = new_database()
    _load_release_0_1_0(dsn)
    rows = _rows(dsn)
    # The fixture as it was stored: comparing before and after alone would pass on no rows.
    assert [(r[0], r[1]) for r in rows["write_model.accounts"]] == [
        (1001, "alice"),
        (1002, "Bob"),
        (1003, "carol"),
    ]
    assert [r[2] for r in rows["write_model.tweets"]] == [False, True, False]
    assert sorted(r[1] for r in rows["write_model.idempotency_keys"]) == [
        "delete-1",
        "hello-1",
        "in-flight",
    ]
    assert [r[1] for r in rows["write_model.unconfirmed_events"]] == ["user:1001", "user:1003"]
    assert rows["write_model.snowflake_workers (sequence)"] == [(3,)]
    assert len(rows["archive.events"]) == 7 and len(rows["archive.positions"]) == 6
    assert rows["archive.events_seq_seq (sequence)"] == [(7,)]
    assert [(r[0], r[1]) for r in rows["chirp_meta.targets"]] == [
        ("read_model", 1),
        ("read_model:search", 2),
    ]
    assert [r[2] for r in rows["chirp_meta.handovers"]] == ["paused"]
    before = _schema(dsn, [*MIGRATED, "read_model"])

    status = _chirp_migrate(dsn, "--status")
    assert status.returncode == 1, status.stderr
    assert "prepared before migrations" in status.stdout and "head 0010" in status.stdout

    done = _chirp_migrate(dsn)
    assert done.returncode == 0, done.stderr
    deployment_line, archive_line = done.stdout.splitlines()
    assert "stamped at 0001" in deployment_line and "0001 -> 0010: applied 0002" in deployment_line
    assert "; 0003 (Outbox" in deployment_line and "; 0004 (Media uploads" in deployment_line
    assert "; 0005 (Media: which tweet" in deployment_line
    assert "; 0006 (Blocks, and the order" in deployment_line
    assert "; 0007 (Protected accounts" in deployment_line
    assert "; 0008 (Deleted accounts" in deployment_line
    assert "; 0009 (Each account's trends region" in deployment_line
    assert "; 0010 (The ranked home timeline's published models" in deployment_line
    assert "stamped at 0001" in archive_line and "applied" not in archive_line
    assert _versions(dsn) == ("0010", "0001")
    # Every row kept; the outbox's rows gain the new column, not acknowledged (sent again);
    # the media table is new and empty.
    migrated_rows = rows | {
        "write_model.unconfirmed_events": [
            (*row, False) for row in rows["write_model.unconfirmed_events"]
        ],
        "write_model.media": [],
        "write_model.blocks": [],
        "write_model.pairs": [],
        "write_model.follow_requests": [],
        "write_model.user_keys": [],
        "chirp_meta.ranker_models": [],
        "chirp_meta.ranker_models_seq_seq (sequence)": [(None,)],
        # 0007's protected, 0008's deleted_at, 0009's region
        "write_model.accounts": [(*row, False, None, None) for row in rows["write_model.accounts"]],
    }
    assert _rows(dsn) == migrated_rows
    migrated = _schema(dsn, [*MIGRATED, "read_model"])
    assert migrated == _plus(before, NEW, _version_tables(["chirp_meta", "archive"]))

    again = _chirp_migrate(dsn)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("nothing to do") == 2, again.stdout
    assert _versions(dsn) == ("0010", "0001")
    assert _rows(dsn) == migrated_rows
    assert _schema(dsn, [*MIGRATED, "read_model"]) == migrated
    assert _chirp_migrate(dsn, "--status").returncode == 0


def test_an_empty_database_migrates_to_the_schema_of_release_0_1_0_plus_the_revisions(
    new_database,
):
    release, empty = new_database(), new_database()
    _load_release_0_1_0(release)
    expected = _plus(_schema(release, MIGRATED), NEW, _version_tables(["chirp_meta", "archive"]))

    done = migrate(Settings(postgres_dsn=empty))
    assert [(m.before, m.after, m.stamped) for m in done] == [
        (None, "0010", False),
        (None, "0001", False),
    ]
    assert [revision.split()[0] for revision in done[0].applied] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
    ]
    assert _schema(empty, MIGRATED) == expected
    assert _rows(empty) == {table: [] for table in _rows(release) if "sequence" not in table} | {
        "write_model.media": [],
        "write_model.blocks": [],
        "write_model.pairs": [],
        "write_model.follow_requests": [],
        "write_model.user_keys": [],
        "chirp_meta.ranker_models": [],
        "chirp_meta.ranker_models_seq_seq (sequence)": [(None,)],
        "write_model.snowflake_workers (sequence)": [(None,)],
        "archive.events_seq_seq (sequence)": [(None,)],
    }

    # An archive of another name is a schema set of its own, from its first revision.
    other = upgrade(empty, archive("archive_other"))
    assert (other.before, other.after, other.applied[0].split()[0]) == (None, "0001", "0001")
    assert _schema(empty, ["archive_other"]) == _renamed(expected, "archive", "archive_other")
    assert _versions(empty) == ("0010", "0001")


def test_two_migrations_at_once_apply_each_revision_once(new_database):
    # Two processes, as two services starting at once are (alembic's context is global to a
    # process: two threads of one would share it).
    dsn = new_database()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = [pool.submit(migrate, Settings(postgres_dsn=dsn)) for _ in range(2)]
        results = [run.result(timeout=60) for run in runs]
    applied = sorted(
        revision.split()[0]
        for result in results
        for migrated in result
        for revision in migrated.applied
    )
    # deployment's ten, the archive's one
    applied_revisions = ["0001", "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]
    assert applied == [*applied_revisions, "0009", "0010"]
    assert _versions(dsn) == ("0010", "0001")
