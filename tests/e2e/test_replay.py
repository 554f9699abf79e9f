"""`chirp replay core` on a live stack: the API keeps serving while the core read models are
rebuilt into a new generation; every read during the replay sees the old generation
complete, every read after it the new one, equal to the old; writes made during the replay
reach the new generation; the old generation is dropped. A second replay reads the archive
first (with one event of an old schema version in it, applied through its upcaster) and
keeps the generation it replaces.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import httpx
import psycopg
import pytest
import redis

from infra.bootstrap import topic_registry
from infra.settings import Settings
from infra.stack import LocalStack
from streams.admin import log_end_offsets
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS, new_data_dir
from tests.support.clients import eventually, follow, post, register
from tests.support.processes import processes_in_groups
from tests.support.read_models import (LIVE_GROUP, all_pages, differences, old_tweet,
                                       run_workload, snapshot, table_dump, wait_caught_up)

pytestmark = pytest.mark.slow


@pytest.fixture
def own_stack():
    data_dir = new_data_dir()
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        stack.start()
        stack.start_agents(**TEST_SETTINGS)
        yield stack, stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS)
    finally:
        groups = stack.pids()
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert not processes_in_groups(groups)


def _caught_up(stack: LocalStack, prefix: str) -> None:
    ends = log_end_offsets(stack.settings.bootstrap_servers,
                           topic_registry(stack.settings).event_topics())
    wait_caught_up(stack, LIVE_GROUP, prefix,
                   {f"{topic}:{partition}": end - 1 for (topic, partition), end in ends.items() if end})


def _replay(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.cli", "replay", "core", *args],
                          env=stack.environment() | TEST_SETTINGS, capture_output=True,
                          timeout=300)


def _schemas(stack: LocalStack) -> set[str]:
    with psycopg.connect(stack.settings.postgres) as conn:
        return {name for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'read_model%'")}


def test_replaying_the_core_read_models_under_reads_and_writes(own_stack):
    stack, base_url = own_stack
    with httpx.Client(base_url=base_url, timeout=30) as client:
        users = [register(client, "rpl") for _ in range(6)]
    tweet_ids: list[str] = []
    run_workload(lambda: httpx.Client(base_url=base_url, timeout=30), users, threading.Event(),
                 tweet_ids)
    old_id = 7_000_000_000_000_000_003
    old_tweet(stack, users[2].user_id, old_id)
    tweet_ids.append(str(old_id))
    _caught_up(stack, "chirp:")
    before = snapshot(base_url, users, tweet_ids)
    assert before[f"tweet {old_id}"][0] == 200
    tables = table_dump(stack, "read_model")

    # Readers of the workload's users, all through the replay: each read is the old state.
    stop, reads, wrong = threading.Event(), [], []

    def read_constantly() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                for user in users[:3]:
                    for key, path in ((f"profile {user.username}", f"/api/v1/users/{user.user_id}"),):
                        seen = client.get(path).json()
                        reads.append(key)
                        if seen != before[key]:
                            wrong.append((key, seen))
                    page = client.get("/api/v1/timeline/home", headers=user.auth,
                                      params={"limit": 100}).json()["tweets"]
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

    threads = [threading.Thread(target=read_constantly), threading.Thread(target=write_constantly)]
    for thread in threads:
        thread.start()
    try:
        replay = _replay(stack)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    output = replay.stdout.decode() + replay.stderr.decode()
    assert replay.returncode == 0, output
    assert "generation 1 -> 2" in replay.stdout.decode(), output
    print(replay.stdout.decode())
    assert len(reads) > 20 and wrong == [], wrong[:3]

    # The new generation: the same state, the live writes included, the old one gone.
    _caught_up(stack, "chirp:g2:")
    assert differences(snapshot(base_url, users, tweet_ids), before) == {}
    # Every table as it was, but for the rows the live writers added meanwhile.
    live_ids = {int(author.user_id), int(reader.user_id), *map(int, live_posts)}
    rebuilt = {table: [row for row in rows if not live_ids & set(row)]
               for table, rows in table_dump(stack, "read_model_g2").items()}
    assert rebuilt == tables
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert live_posts
        assert eventually(lambda: {t["tweet_id"] for t in all_pages(
            client, "/api/v1/timeline/home", reader)} >= set(live_posts), timeout=15)
    assert _schemas(stack) == {"read_model_g2"}
    keys = redis.Redis.from_url(stack.settings.redis)
    assert not list(keys.scan_iter("chirp:home:*")) and list(keys.scan_iter("chirp:g2:home:*"))

    # From the archive (the old event included), keeping the generation it replaces.
    again = _replay(stack, "--source", "archive", "--keep-old")
    assert again.returncode == 0, again.stdout.decode() + again.stderr.decode()
    assert "generation 2 -> 3" in again.stdout.decode() and "generation 2 kept" in again.stdout.decode()
    assert " 0 from the archive" not in again.stdout.decode()
    print(again.stdout.decode())
    _caught_up(stack, "chirp:g3:")
    assert differences(snapshot(base_url, users, tweet_ids), before) == {}
    assert _schemas(stack) == {"read_model_g2", "read_model_g3"}
