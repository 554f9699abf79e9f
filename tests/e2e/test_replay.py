"""`chirp replay` on a live stack: the API keeps serving while read models are rebuilt into
new generations; every read during a replay sees the old generation complete, every read
after it the new one, equal to the old; writes made during the replay reach the new
generation; the old generation is dropped.

- core: a second replay reads the archive first (with one event of an old schema version in
  it, applied through its upcaster) and keeps the generation it replaces;
- `all` (core, search and trends) under search and trends readers and a writer; then search
  again from the archive, keeping the old index.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import psycopg
import pytest
from kafka import KafkaProducer

from infra.redis_clients import sync_redis
from operations.stack import LocalStack
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import TEST_SETTINGS, own_stack
from tests.support.clients import eventually, follow, post, register
from tests.support.read_models import (
    LIVE_GROUP,
    all_pages,
    differences,
    notifications_snapshot,
    old_tweet,
    run_workload,
    snapshot,
    table_dump,
    wait_caught_up,
)

pytestmark = pytest.mark.slow


@pytest.fixture(name="own_stack")
def _own_stack():
    with own_stack() as started:
        yield started


def _caught_up(
    stack: LocalStack, prefix: str, group: str = LIVE_GROUP, topics: list | None = None
) -> None:
    ends = log_end_offsets(
        stack.settings.bootstrap_servers, topics or topic_registry(stack.settings).event_topics()
    )
    wait_caught_up(
        stack,
        group,
        prefix,
        {f"{topic}:{partition}": end - 1 for (topic, partition), end in ends.items() if end},
    )


def _workload(base_url: str, name: str) -> tuple[list, list[str]]:
    """Six users and a burst of every kind of write through the API: (users, tweet ids)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        users = [register(client, name) for _ in range(6)]
    tweet_ids: list[str] = []
    run_workload(
        lambda: httpx.Client(base_url=base_url, timeout=30), users, threading.Event(), tweet_ids
    )
    return users, tweet_ids


def _replay(stack: LocalStack, *args: str, read_model: str = "core") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "operations.cli", "replay", read_model, *args],
        env=stack.environment() | TEST_SETTINGS,
        capture_output=True,
        timeout=300,
    )


def _replay_meanwhile(
    stack: LocalStack, stop: threading.Event, meanwhile: list, read_model: str
) -> subprocess.CompletedProcess:
    """`chirp replay read_model`, with each of `meanwhile` running in a thread until it ends
    (they run until `stop` is set); it must succeed."""
    threads = [threading.Thread(target=function) for function in meanwhile]
    for thread in threads:
        thread.start()
    try:
        replay = _replay(stack, read_model=read_model)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert replay.returncode == 0, replay.stdout.decode() + replay.stderr.decode()
    print(replay.stdout.decode())
    return replay


def _kept_engagements(stack: LocalStack, prefix: str) -> dict[str, list]:
    """Each user's kept engagements in a generation: user tag -> (member, time) pairs."""
    client = sync_redis(stack.settings)
    return {
        key.decode().rsplit(":", 1)[1]: client.zrange(key, 0, -1, withscores=True)
        for key in client.scan_iter(f"{prefix}engagements:*")
    }


def _schemas(stack: LocalStack) -> set[str]:
    """The core read models' schemas."""
    with psycopg.connect(stack.settings.postgres) as conn:
        return {
            name
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'read_model%'"
                " AND nspname NOT LIKE 'read_model_notifications%'"
            )
        }


def test_replaying_the_core_read_models_under_reads_and_writes(own_stack):
    stack, base_url = own_stack
    users, tweet_ids = _workload(base_url, "rpl")
    old_id = 7_000_000_000_000_000_003
    old_tweet(stack, users[2].user_id, old_id)
    tweet_ids.append(str(old_id))
    _caught_up(stack, "chirp:")
    before = snapshot(base_url, users, tweet_ids)
    assert before[f"tweet {old_id}"][0] == 200
    tables = table_dump(stack, "read_model")
    # The ranked timeline's affinities are computed from these alone (docs/ranking.md).
    engaged = _kept_engagements(stack, "chirp:")
    assert engaged and all(engaged.values())

    # Readers of the workload's users, all through the replay: each read is the old state.
    stop, reads, wrong = threading.Event(), [], []

    def read_constantly() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                for user in users[:3]:
                    for key, path in (
                        (f"profile {user.username}", f"/api/v1/users/{user.user_id}"),
                    ):
                        seen = client.get(path).json()
                        reads.append(key)
                        if seen != before[key]:
                            wrong.append((key, seen))
                    page = client.get(
                        "/api/v1/timeline/home", headers=user.auth, params={"limit": 100}
                    ).json()["tweets"]
                    reads.append(f"home {user.username}")
                    if page != before[f"home {user.username}"][:100]:
                        wrong.append((f"home {user.username}", [t["tweet_id"] for t in page]))

    # Meanwhile others write: a replay catches up with live events.
    with httpx.Client(base_url=base_url, timeout=30) as client:
        author, reader = register(client, "live"), register(client, "live")
        follow(client, reader, author)
    live_posts: list[str] = []

    def write_constantly() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                live_posts.append(post(client, author, f"live during replay {len(live_posts)}"))

    replay = _replay_meanwhile(stack, stop, [read_constantly, write_constantly], "core")
    assert "generation 1 -> 2" in replay.stdout.decode()
    assert len(reads) > 20 and wrong == [], wrong[:3]

    # The new generation: the same state, the live writes included, the old one gone.
    _caught_up(stack, "chirp:g2:")
    assert differences(snapshot(base_url, users, tweet_ids), before) == {}
    # Every table as it was, but for the rows the live writers added meanwhile.
    live_ids = {int(author.user_id), int(reader.user_id), *map(int, live_posts)}
    rebuilt = {
        table: [row for row in rows if not live_ids & set(row)]
        for table, rows in table_dump(stack, "read_model_g2").items()
    }
    assert rebuilt == tables
    assert _kept_engagements(stack, "chirp:g2:") == engaged
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert live_posts
        assert eventually(
            lambda: (
                {t["tweet_id"] for t in all_pages(client, "/api/v1/timeline/home", reader)}
                >= set(live_posts)
            ),
            timeout=15,
        )
    assert _schemas(stack) == {"read_model_g2"}
    keys = sync_redis(stack.settings)
    assert not list(keys.scan_iter("chirp:home:*")) and list(keys.scan_iter("chirp:g2:home:*"))

    # From the archive (the old event included), keeping the generation it replaces.
    again = _replay(stack, "--source", "archive", "--keep-old")
    assert again.returncode == 0, again.stdout.decode() + again.stderr.decode()
    assert (
        "generation 2 -> 3" in again.stdout.decode()
        and "generation 2 kept" in again.stdout.decode()
    )
    assert " 0 from the archive" not in again.stdout.decode()
    print(again.stdout.decode())
    _caught_up(stack, "chirp:g3:")
    assert differences(snapshot(base_url, users, tweet_ids), before) == {}
    assert _kept_engagements(stack, "chirp:g3:") == engaged
    assert _schemas(stack) == {"read_model_g2", "read_model_g3"}


def _searches(client: httpx.Client, user, queries: list[str]) -> dict[str, list[str]]:
    """Every hit of each query, as tweet ids in rank order."""
    return {
        query: [tweet["tweet_id"] for tweet in all_pages(client, "/api/v1/search", user, q=query)]
        for query in queries
    }


def _indexes(search_root) -> list[str]:
    """The index directories there (beside them, the agents' writer lock: docs/deploy.md)."""
    return sorted(path.name for path in search_root.iterdir() if path.is_dir())


def _trend_rows(stack: LocalStack, windows: int) -> list[dict]:
    """Rows as the trending job writes them, onto `trending-topics`: the trends read model's
    input, written here so that this test does not run the Flink job (tests/e2e/test_trends.py
    runs it)."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    rows = [
        {
            "window_start": (end - timedelta(minutes=60 + 5 * back)).isoformat(),
            "window_end": (end - timedelta(minutes=5 * back)).isoformat(),
            "rank": rank,
            "hashtag": f"tag{back}x{rank}",
            "count": 100 - rank,
            "previous_count": 50,
            "velocity": 1.5,
        }
        for back in range(windows)
        for rank in range(1, 6)
    ]
    producer = KafkaProducer(bootstrap_servers=stack.settings.bootstrap_servers, acks="all")
    for row in rows:
        producer.send(
            topic_registry(stack.settings).trending.name,
            orjson.dumps(row),
            key=row["hashtag"].encode(),
        )
    producer.flush()
    producer.close()
    return rows


def test_replaying_every_read_model_under_search_and_trend_reads(own_stack):
    stack, base_url = own_stack
    users, _ = _workload(base_url, "srch")
    _trend_rows(stack, windows=3)
    _caught_up(stack, "chirp:")
    _caught_up(stack, "chirp:", f"{LIVE_GROUP}-trends", [topic_registry(stack.settings).trending])
    _caught_up(stack, "chirp:", f"{LIVE_GROUP}-notifications")
    queries = ["step", "#burst", f"from:{users[1].username}", "step #burst"]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        hits = _searches(client, users[0], queries)
        trends = client.get("/api/v1/trends").json()
    notes = notifications_snapshot(base_url, users)
    assert len(hits["step"]) > 50 and hits[f"from:{users[1].username}"], hits
    assert all(notes[f"notifications {user.username}"] for user in users), notes
    assert [row["hashtag"] for row in trends["trends"]] == [f"tag0x{rank}" for rank in range(1, 6)]

    # Readers of search and trends throughout; meanwhile one user posts.
    stop, reads, wrong = threading.Event(), [], []

    def read_constantly() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                seen = _searches(client, users[0], queries)
                reads.append("search")
                if seen != hits:
                    wrong.append(("search", differences(seen, hits)))
                seen = client.get("/api/v1/trends").json()
                reads.append("trends")
                if seen != trends:
                    wrong.append(("trends", seen))
                seen = notifications_snapshot(base_url, users[:1])
                reads.append("notifications")
                if any(seen[key] != notes[key] for key in seen):
                    wrong.append(("notifications", seen))

    live_posts: list[str] = []

    def write_steadily() -> None:
        # At most search's deepest page (1000 hits), so that all of them can be found.
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.wait(0.05) and len(live_posts) < 900:
                live_posts.append(post(client, users[5], f"livepost {len(live_posts)}"))

    replay = _replay_meanwhile(stack, stop, [read_constantly, write_steadily], "all")
    for read_model in ("core", "search", "trends", "notifications"):
        assert f"{read_model}: generation 1 -> 2" in replay.stdout.decode()
    assert len(reads) > 20 and wrong == [], wrong[:3]

    # The new generations serve the same, and the live agents write them.
    search_root = stack.settings.data_dir / "search"
    assert _indexes(search_root) == ["read_model_g2"]
    keys = sync_redis(stack.settings)
    assert not keys.exists("chirp:{trends}") and keys.exists("chirp:{trends-g2}")
    with psycopg.connect(stack.settings.postgres) as conn:
        assert {
            name
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'read_model_notifications%'"
            )
        } == {"read_model_notifications_g2"}
    assert notifications_snapshot(base_url, users) == notes
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert _searches(client, users[0], queries) == hits
        assert client.get("/api/v1/trends").json() == trends
        # The live notifications agent writes the new generation.
        newcomer = register(client, "newc")
        follow(client, newcomer, users[0])

        def newest_follower() -> str | None:
            groups = all_pages(client, "/api/v1/notifications", users[0], types="follow")
            return groups[0]["actors"][0]["id"] if groups else None

        assert eventually(lambda: newest_follower() == newcomer.user_id, timeout=15)
        assert live_posts
        assert eventually(
            lambda: (
                sorted(_searches(client, users[0], ["livepost"])["livepost"]) == sorted(live_posts)
            ),
            timeout=15,
        )
        newer = _trend_rows(stack, windows=1)[0]
        newer_end = datetime.fromisoformat(newer["window_end"])
        assert eventually(
            lambda: (
                datetime.fromisoformat(client.get("/api/v1/trends").json()["window_end"])
                == newer_end
            ),
            timeout=15,
        )

    # Search again, from the archive, keeping the index it replaces.
    again = _replay(stack, "--source", "archive", "--keep-old", read_model="search")
    assert again.returncode == 0, again.stdout.decode() + again.stderr.decode()
    assert "search: generation 2 -> 3" in again.stdout.decode()
    assert " 0 from the archive" not in again.stdout.decode()
    print(again.stdout.decode())
    assert _indexes(search_root) == ["read_model_g2", "read_model_g3"]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert _searches(client, users[0], queries) == hits
