"""PostgreSQL stops for a few seconds while clients read and post.

Reads Redis can serve (a home timeline with its tweets cached) keep answering 200; writes,
which need the write model, answer 503 within a bound and never 500; `/readyz` names
PostgreSQL; the API and the agents recover by themselves when it is back, and no post
answered 201 is lost or doubled. Prints what it measured.
"""

from __future__ import annotations

import threading
import time
from functools import partial

import httpx
import pytest

from infra.servers import PostgresServer
from tests.conftest import own_stack
from tests.support.clients import eventually, follow, home, post, register
from tests.support.faults import WriteLedger, post_steadily, running, settled_audit
from tests.support.figures import report_figure
from tests.support.logs import json_records

pytestmark = pytest.mark.slow

DOWN_SECONDS = 5  # at least: the probe write alone waits out the pool's 5 s timeout
# The API's pool waits this long for a connection before answering 503 (its timeout), plus
# a margin for a busy machine.
ANSWER_BOUND_SECONDS = 5 + 3
PROBE_ID = "postgres-outage-probe"


def test_reads_from_redis_go_on_and_writes_fail_cleanly_while_postgresql_is_down():
    with own_stack() as (stack, base_url):
        with httpx.Client(base_url=base_url, timeout=30) as client:
            author, reader = register(client, "pgauthor"), register(client, "pgreader")
            prober = register(client, "pgprobe")
            follow(client, reader, author)
            for number in range(10):
                post(client, author, f"before the outage {number}")
            before = eventually(
                lambda: (
                    (page := home(client, reader, limit=50))["tweets"]
                    and len(page["tweets"]) == 10
                    and page
                ),
                timeout=15,
            )
            assert before, "the reader's timeline did not fill"

        earlier = {tweet["tweet_id"] for tweet in before["tweets"]}
        reads: list[tuple[int, float]] = []
        wrong_reads: list[dict] = []
        stop = threading.Event()

        def read_steadily() -> None:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                while not stop.wait(0.05):
                    started = time.monotonic()
                    response = client.get(
                        "/api/v1/timeline/home", headers=reader.auth, params={"limit": 50}
                    )
                    reads.append((response.status_code, time.monotonic() - started))
                    # The author goes on posting: the earlier tweets must all still be there.
                    if response.status_code == 200 and not earlier <= {
                        tweet["tweet_id"] for tweet in response.json()["tweets"]
                    }:
                        wrong_reads.append(response.json())

        ledger = WriteLedger()
        database = next(server for server in stack.servers if isinstance(server, PostgresServer))
        with running(
            stop,
            read_steadily,
            partial(post_steadily, base_url, author, "during", ledger, stop, 0.1),
        ):
            time.sleep(1)
            database.process.stop()
            stopped = time.monotonic()
            with httpx.Client(base_url=base_url, timeout=30) as client:
                readiness = client.get("/readyz")
                reads_before_outage = len(reads)
                probe = client.post(
                    "/api/v1/tweets",
                    json={"content": "probe"},
                    headers=prober.auth | {"X-Request-ID": PROBE_ID},
                )
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopped)))
            reads_during_outage = reads[reads_before_outage:]
            database.start()  # from this (main) thread: it must outlive the helper threads
            restarted = time.monotonic()
            recovered_after = ledger.recovered_after(restarted)
            time.sleep(2)

        figures = settled_audit(base_url, [author], ledger)
        outage_statuses = [status for status, _ in reads_during_outage]
        slowest_read = max((seconds for _, seconds in reads_during_outage), default=0)
        report_figure(
            f"FAULT PostgreSQL stopped {restarted - stopped:.1f}s: home-timeline reads "
            f"during it {len(outage_statuses)} ({outage_statuses.count(200)} answered 200, "
            f"slowest {slowest_read * 1000:.0f} ms); writes "
            f"{len(ledger.statuses)} answers, {ledger.statuses.count(503)} of them 503, slowest "
            f"{ledger.slowest_answer:.1f}s (bound {ANSWER_BOUND_SECONDS}s); first 201 "
            f"{recovered_after:.1f}s after PostgreSQL was back; accepted "
            f"{figures['accepted']}, lost {figures['lost']}, duplicated "
            f"{figures['duplicated']}; refused {figures['refused']} (applied "
            f"{figures['refused_applied']})"
        )
        # The API's warning about it is a JSON record that carries the request's id.
        api = next(process for process in stack.processes if process.name == "api")
        warnings = [
            record
            for record in json_records(api)
            if record.get("request_id") == PROBE_ID and record["level"] == "WARNING"
        ]
        assert probe.status_code == 503 and probe.headers["X-Request-ID"] == PROBE_ID
        assert warnings and "database" in warnings[0]["message"], warnings
        assert readiness.status_code == 503 and "postgres" in readiness.json()["checks"]
        assert readiness.json()["checks"]["postgres"] != "ok"
        assert outage_statuses and set(outage_statuses) == {200}, outage_statuses
        assert wrong_reads == []
        assert ledger.statuses.count(503) > 0, "the outage was not felt"
        assert ledger.server_errors() == [], "\n".join(
            process.tail(150) for process in stack.processes if process.name == "api"
        )
        assert ledger.slowest_answer < ANSWER_BOUND_SECONDS
        assert recovered_after < 15
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert figures["refused_applied"] == 0, figures
