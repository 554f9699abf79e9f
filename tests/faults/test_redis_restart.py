"""Redis is killed and starts again empty while readers read their home timelines through
two API processes and an author posts.

No answer is a 5xx (the API's Redis client retries while Redis restarts); each timeline is
rebuilt once from PostgreSQL (single-flight across processes) and equals what it was; no
post answered 201 is lost or doubled. Prints what it measured.
"""

from __future__ import annotations

import shutil
import threading
import time
from functools import partial

import httpx
import pytest

from infra.redis_clients import sync_redis
from infra.servers import RedisServer
from projections.redis_keys import RedisKeys
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS, own_stack
from tests.support.clients import eventually, follow, home, post, register
from tests.support.faults import WriteLedger, post_steadily, running, settled_audit
from tests.support.figures import report_figure

pytestmark = pytest.mark.slow

READERS = 2


def test_redis_restarted_empty_rebuilds_each_timeline_once_with_no_server_error():
    with own_stack() as (stack, base_url):
        second_url = stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS)
        with httpx.Client(base_url=base_url, timeout=30) as client:
            readers = [register(client, "rr") for _ in range(READERS)]
            authors = [register(client, "ra") for _ in range(3)]
            writer = register(client, "rw")
            for reader in readers:
                for author in authors:
                    follow(client, reader, author)
            for number in range(30):
                post(client, authors[number % 3], f"before the restart {number}")
            before = {
                reader.user_id: eventually(
                    lambda reader=reader: (
                        len((page := home(client, reader, limit=100))["tweets"]) == 30 and page
                    ),
                    timeout=15,
                )
                for reader in readers
            }
        assert all(before.values()), "the readers' timelines did not fill"

        statuses: list[int] = []
        changed: list[dict] = []
        stop = threading.Event()

        def read_steadily(url: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                while not stop.wait(0.01):
                    for reader in readers:
                        response = client.get(
                            "/api/v1/timeline/home", headers=reader.auth, params={"limit": 100}
                        )
                        statuses.append(response.status_code)
                        if (
                            response.status_code == 200
                            and response.json() != before[reader.user_id]
                        ):
                            changed.append(response.json())

        ledger = WriteLedger()
        server = next(server for server in stack.servers if isinstance(server, RedisServer))
        with running(
            stop,
            partial(read_steadily, base_url),
            partial(read_steadily, second_url),
            partial(post_steadily, base_url, writer, "during", ledger, stop, 0.05),
        ):
            time.sleep(1)
            server.process.kill()
            shutil.rmtree(server.data_dir / "redis")  # its append-only file: it starts empty
            (server.data_dir / "redis").mkdir()
            killed = time.monotonic()
            server.start()  # from this (main) thread: it must outlive the helper threads
            restarted = time.monotonic()
            reads_at_restart = len(statuses)
            assert eventually(lambda: len(statuses) > reads_at_restart + 50, timeout=30)
            time.sleep(1)

        client = sync_redis(stack.settings)
        builds = int(client.hget(RedisKeys().stats(), "timeline_builds") or 0)

        figures = settled_audit(base_url, [writer], ledger)
        report_figure(
            f"FAULT Redis killed and restarted empty ({restarted - killed:.1f}s down): "
            f"{len(statuses)} home-timeline reads from 2 API processes, "
            f"{sum(status >= 500 for status in statuses)} of them 5xx; timelines rebuilt "
            f"{builds} times for {READERS} readers; posts: {len(ledger.statuses)} answers, "
            f"{sum(status >= 500 for status in ledger.statuses)} of them 5xx, accepted "
            f"{figures['accepted']}, lost {figures['lost']}, duplicated {figures['duplicated']}"
        )
        assert [status for status in statuses if status >= 500] == [], "\n".join(
            process.tail(80) for process in stack.processes if process.name == "api"
        )
        assert set(statuses) == {200}
        assert changed == []
        assert builds == READERS  # once each, although two processes read them at once
        assert [status for status in ledger.statuses if status >= 500] == []
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
