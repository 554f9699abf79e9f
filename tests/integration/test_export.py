"""`chirp export` on the real PostgreSQL archive: a time range, Parquet and JSON lines, old
versions upcast, what cannot be decoded left out and counted, and a reader that stops
early."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pyarrow.parquet as pq
from psycopg_pool import AsyncConnectionPool

from schemas import events as ev
from streams.archive import PostgresArchive, Record
from streams.ids import SnowflakeIds

AT = datetime(2026, 10, 5, 12, tzinfo=timezone.utc)


def _archive(stack, schema: str, records: list[Record]) -> None:
    async def go():
        pool = AsyncConnectionPool(stack.settings.postgres, min_size=1, max_size=1, open=False)
        await pool.open(wait=True)
        try:
            archive = PostgresArchive(pool, schema)
            await archive.setup()
            await archive.append(records)
        finally:
            await pool.close()
    asyncio.run(go())


def _export_command(stack, schema: str, *args: str) -> dict:
    return {"args": [sys.executable, "-m", "operations.cli", "export", *args],
            "env": os.environ | {"CHIRP_POSTGRES_DSN": stack.settings.postgres,
                                 "CHIRP_ARCHIVE_SCHEMA": schema}}


def _chirp_export(stack, schema: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(**_export_command(stack, schema, *args), cwd=cwd, capture_output=True,
                          timeout=60)


def _fresh_archive(stack, records: list[Record]) -> str:
    schema = f"archive_{uuid.uuid4().hex[:8]}"
    _archive(stack, schema, records)
    return schema


def _records() -> tuple[list[Record], list[int]]:
    ids = SnowflakeIds(2, clock=lambda: AT.timestamp())
    old, follow, unknown, late = (ids.next_id() for _ in range(4))
    v1 = orjson.dumps({"event_id": str(old), "type": "TweetPosted", "schema_version": 1,
                       "occurred_at": AT.isoformat(), "actor_id": "3",
                       "payload": {"tweet_id": str(old), "author_id": "3",
                                   "content": "from the #archive", "reply_to": None}})
    followed = ev.encode(ev.UserFollowed(event_id=follow, occurred_at=AT + timedelta(minutes=1),
                                         actor_id=3, follower_id=3, followee_id=4))
    future = orjson.dumps({"event_id": str(unknown), "type": "TweetPinned", "schema_version": 1,
                           "occurred_at": (AT + timedelta(minutes=2)).isoformat(),
                           "actor_id": "3", "payload": {"tweet_id": str(old)}})
    after = ev.encode(ev.UserFollowed(event_id=late, occurred_at=AT + timedelta(days=1),
                                      actor_id=3, follower_id=3, followee_id=5))
    records = [Record("tweets", 0, 0, b"3", v1), Record("follows", 1, 0, b"3", followed),
               Record("tweets", 0, 1, b"3", future), Record("follows", 1, 1, b"3", after)]
    return records, [old, follow, unknown, late]


def test_export_writes_a_time_range_upcast_as_parquet_and_json_lines(stack, tmp_path):
    schema = f"archive_{uuid.uuid4().hex[:8]}"
    records, (old, follow, _, _) = _records()
    _archive(stack, schema, records)
    window = ("--from", AT.isoformat(), "--to", (AT + timedelta(hours=1)).isoformat())

    parquet = tmp_path / "events.parquet"
    done = _chirp_export(stack, schema, *window, "--format", "parquet", "--output", str(parquet))
    assert done.returncode == 0, done.stderr.decode()
    assert b"exported 2 events" in done.stderr and b"left out 1" in done.stderr
    rows = pq.read_table(parquet).to_pylist()
    assert [(r["topic"], r["event_id"], r["type"], r["schema_version"]) for r in rows] == [
        ("follows", follow, "UserFollowed", 1), ("tweets", old, "TweetPosted", 2)]
    assert orjson.loads(rows[1]["payload"])["hashtags"] == ["archive"]
    assert rows[1]["occurred_at"] == AT

    lines = _chirp_export(stack, schema, *window, "--format", "jsonl")
    assert lines.returncode == 0, lines.stderr.decode()
    exported = [ev.decode(line) for line in lines.stdout.splitlines()]
    assert [(type(e).__name__, e.event_id) for e in exported] == [
        ("UserFollowed", follow), ("TweetPosted", old)]
    assert exported[1].hashtags == ("archive",)


def test_export_refuses_a_parquet_file_without_a_path_and_an_empty_range(stack):
    schema = f"archive_{uuid.uuid4().hex[:8]}"
    _archive(stack, schema, [])
    done = _chirp_export(stack, schema, "--format", "parquet")
    assert done.returncode == 2 and b"needs an output file" in done.stderr
    backwards = _chirp_export(stack, schema, "--from", "2026-02-01", "--to", "2026-01-01")
    assert backwards.returncode == 2 and b"--to must be after --from" in backwards.stderr


def test_export_to_a_reader_that_stops_early_ends_quietly(stack):
    ids = SnowflakeIds(4, clock=lambda: AT.timestamp())
    tweets = [ev.TweetPosted(event_id=tweet_id, occurred_at=AT, actor_id=3, tweet_id=tweet_id,
                             author_id=3, content=f"tweet {n} of a long export, #pipes")
              for n, tweet_id in enumerate(ids.next_id() for _ in range(2000))]
    # Far more than a pipe holds (64 KiB): the export is still writing when the reader goes.
    schema = _fresh_archive(stack, [Record("tweets", 0, n, b"3", ev.encode(tweet))
                                    for n, tweet in enumerate(tweets)])

    with subprocess.Popen(**_export_command(stack, schema, "--format", "jsonl"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as export:
        first = export.stdout.readline()  # `| head -1`
        export.stdout.close()
        errors = export.stderr.read()
        status = export.wait(timeout=60)
    assert ev.decode(first) == tweets[0]
    assert status == 141, errors.decode()  # 128 + SIGPIPE, as `cat` or `grep` would end
    assert errors == b""
