"""`chirp export` on the real PostgreSQL archive: a time range, Parquet tables and JSON lines,
old versions upcast, what cannot be decoded left out and counted, the analysts' query of
docs/replay.md run with DuckDB, and a reader that stops early."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg_pool import AsyncConnectionPool

from operations.migrate import upgrade
from operations.migrations.schema_sets import archive as archive_schema_set
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.archive import PostgresArchive, Record
from streams.ids import SnowflakeIds

AT = datetime(2026, 10, 5, 12, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "replay.md"


def _archive(stack, schema: str, records: list[Record]) -> None:
    upgrade(stack.settings.postgres, archive_schema_set(schema))

    async def go():
        pool = AsyncConnectionPool(stack.settings.postgres, min_size=1, max_size=1, open=False)
        await pool.open(wait=True)
        try:
            archive = PostgresArchive(pool, schema)
            await archive.append(records)
        finally:
            await pool.close()

    asyncio.run(go())


def _export_command(stack, schema: str, *args: str) -> dict:
    return {
        "args": [sys.executable, "-m", "operations.cli", "export", *args],
        # The code under test, also when the export runs in another directory.
        "env": os.environ
        | {
            "CHIRP_POSTGRES_DSN": stack.settings.postgres,
            "CHIRP_ARCHIVE_SCHEMA": schema,
            "PYTHONPATH": str(Path(__file__).parents[2]),
        },
    }


def _chirp_export(stack, schema: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        **_export_command(stack, schema, *args), cwd=cwd, capture_output=True, timeout=60
    )


def _fresh_archive(stack, records: list[Record]) -> str:
    schema = f"archive_{uuid.uuid4().hex[:8]}"
    _archive(stack, schema, records)
    return schema


def _records() -> tuple[list[Record], list[int]]:
    ids = SnowflakeIds(2, clock=lambda: AT.timestamp())
    old, follow, unknown, late = (ids.next_id() for _ in range(4))
    v1 = orjson.dumps(
        {
            "event_id": str(old),
            "type": "TweetPosted",
            "schema_version": 1,
            "occurred_at": AT.isoformat(),
            "actor_id": "3",
            "payload": {
                "tweet_id": str(old),
                "author_id": "3",
                "content": "from the #archive",
                "reply_to": None,
            },
        }
    )
    followed = ev.encode(
        ev.UserFollowed(
            event_id=follow,
            occurred_at=AT + timedelta(minutes=1),
            actor_id=3,
            follower_id=3,
            followee_id=4,
        )
    )
    future = orjson.dumps(
        {
            "event_id": str(unknown),
            "type": "TweetPinned",
            "schema_version": 1,
            "occurred_at": (AT + timedelta(minutes=2)).isoformat(),
            "actor_id": "3",
            "payload": {"tweet_id": str(old)},
        }
    )
    after = ev.encode(
        ev.UserFollowed(
            event_id=late,
            occurred_at=AT + timedelta(days=1),
            actor_id=3,
            follower_id=3,
            followee_id=5,
        )
    )
    records = [
        Record("tweets", 0, 0, b"3", v1),
        Record("follows", 1, 0, b"3", followed),
        Record("tweets", 0, 1, b"3", future),
        Record("follows", 1, 1, b"3", after),
    ]
    return records, [old, follow, unknown, late]


def test_export_writes_a_time_range_upcast_as_parquet_tables_and_json_lines(stack, tmp_path):
    records, (old, follow, _, _) = _records()
    schema = _fresh_archive(stack, records)
    window = ("--from", AT.isoformat(), "--to", (AT + timedelta(hours=1)).isoformat())

    tables = tmp_path / "events"
    done = _chirp_export(stack, schema, *window, "--format", "parquet", "--output", str(tables))
    assert done.returncode == 0, done.stderr.decode()
    assert b"exported 2 events" in done.stderr and b"left out 1" in done.stderr
    assert sorted(path.name for path in tables.iterdir()) == sorted(
        f"{name}.parquet" for name in ev.EVENT_TYPES
    )
    assert pq.read_table(tables / "UserFollowed.parquet").to_pylist() == [
        {
            "event_id": follow,
            "type": "UserFollowed",
            "schema_version": 1,
            "occurred_at": AT + timedelta(minutes=1),
            "actor_id": 3,
            "topic": "follows",
            "partition": 1,
            "offset": 0,
            "follower_id": 3,
            "followee_id": 4,
        }
    ]
    posted = pq.read_table(tables / "TweetPosted.parquet")
    assert posted.to_pylist() == [
        {
            "event_id": old,
            "type": "TweetPosted",
            "schema_version": 7,
            "occurred_at": AT,
            "actor_id": 3,
            "topic": "tweets",
            "partition": 0,
            "offset": 0,
            "tweet_id": old,
            "author_id": 3,
            "content": "from the #archive",
            "reply_to": None,
            "hashtags": ["archive"],
            "mentions": [],
            "mentioned_ids": [],
            "reply_to_author_id": None,
            "quote_of": None,
            "quote_of_author_id": None,
            "media_ids": [],
            "protected": False,
            "region": None,
            "sealed": None,
        }
    ]
    assert posted.schema.field("hashtags").type == pa.list_(pa.string())
    assert posted.schema.field("reply_to").nullable and not posted.schema.field("tweet_id").nullable
    liked = pq.read_table(tables / "TweetLiked.parquet")
    assert liked.num_rows == 0 and liked.schema.field("tweet_id").type == pa.int64()

    lines = _chirp_export(stack, schema, *window, "--format", "jsonl")
    assert lines.returncode == 0, lines.stderr.decode()
    exported = [ev.decode(line) for line in lines.stdout.splitlines()]
    assert [(type(e).__name__, e.event_id) for e in exported] == [
        ("UserFollowed", follow),
        ("TweetPosted", old),
    ]
    assert exported[1].hashtags == ("archive",)


def test_export_refuses_parquet_without_a_directory_and_an_empty_range(stack, tmp_path):
    schema = _fresh_archive(stack, [])
    done = _chirp_export(stack, schema, "--format", "parquet")
    assert done.returncode == 2 and b"needs an output directory" in done.stderr
    a_file = tmp_path / "events.parquet"
    a_file.write_bytes(b"not a directory")
    onto_a_file = _chirp_export(stack, schema, "--format", "parquet", "--output", str(a_file))
    assert onto_a_file.returncode == 2 and b"is a file" in onto_a_file.stderr
    assert a_file.read_bytes() == b"not a directory"
    backwards = _chirp_export(stack, schema, "--from", "2026-02-01", "--to", "2026-01-01")
    assert backwards.returncode == 2 and b"--to must be after --from" in backwards.stderr


def _documented_query() -> str:
    """The DuckDB query that docs/replay.md shows analysts, as it shows it."""
    section = DOCS.read_text().split("## Export for analysts", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def _tweets_and_a_deletion() -> list[Record]:
    """Six tweets (one with no hashtag), a like, and one tweet deleted."""
    ids = SnowflakeIds(3, clock=lambda: AT.timestamp())
    contents = [
        "#chirp and #python",
        "#chirp",
        "#chirp #duckdb",
        "only #python",
        "#duckdb on #parquet",
        "no tags",
    ]
    tweets = [
        ev.TweetPosted(
            event_id=tweet_id,
            occurred_at=AT,
            actor_id=3,
            tweet_id=tweet_id,
            author_id=3,
            content=content,
            hashtags=extract_hashtags(content),
        )
        for tweet_id, content in ((ids.next_id(), content) for content in contents)
    ]
    deleted = ev.TweetDeleted(
        event_id=ids.next_id(), occurred_at=AT, actor_id=3, tweet_id=tweets[3].tweet_id, author_id=3
    )
    liked = ev.TweetLiked(
        event_id=ids.next_id(), occurred_at=AT, actor_id=4, tweet_id=tweets[0].tweet_id, user_id=4
    )
    return [
        Record("tweets", 0, offset, b"3", ev.encode(event))
        for offset, event in enumerate([*tweets, deleted])
    ] + [Record("engagements", 0, 0, b"4", ev.encode(liked))]


def test_the_documented_duckdb_query_answers_from_an_export(stack, tmp_path, monkeypatch):
    schema = _fresh_archive(stack, _tweets_and_a_deletion())
    done = _chirp_export(stack, schema, "--format", "parquet", "--output", "events", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()

    monkeypatch.chdir(tmp_path)  # the query reads 'events/...', as the docs say
    answer = duckdb.connect().sql(_documented_query()).fetchall()
    # #python's second tweet was deleted: it counts once.
    assert answer == [("chirp", 3), ("duckdb", 2), ("parquet", 1), ("python", 1)]


def test_export_to_a_reader_that_stops_early_ends_quietly(stack):
    ids = SnowflakeIds(4, clock=lambda: AT.timestamp())
    tweets = [
        ev.TweetPosted(
            event_id=tweet_id,
            occurred_at=AT,
            actor_id=3,
            tweet_id=tweet_id,
            author_id=3,
            content=f"tweet {n} of a long export, #pipes",
        )
        for n, tweet_id in enumerate(ids.next_id() for _ in range(2000))
    ]
    # Far more than a pipe holds (64 KiB): the export is still writing when the reader goes.
    schema = _fresh_archive(
        stack, [Record("tweets", 0, n, b"3", ev.encode(tweet)) for n, tweet in enumerate(tweets)]
    )

    with subprocess.Popen(
        **_export_command(stack, schema, "--format", "jsonl"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as export:
        first = export.stdout.readline()  # `| head -1`
        export.stdout.close()
        errors = export.stderr.read()
        status = export.wait(timeout=60)
    assert ev.decode(first) == tweets[0]
    assert status == 141, errors.decode()  # 128 + SIGPIPE, as `cat` or `grep` would end
    assert errors == b""
