"""At-least-once delivery: a killed worker and a replayed log leave the read models as a clean run.

The live read models go through a SIGKILL of the agent worker in the middle of a burst of
writes. A second worker then projects the whole log from the start into a fresh PostgreSQL
schema and Redis prefix (a clean run), and a third replays it again onto that same target.
Everything a user can read, counts and timelines included, must be identical in all three.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import register
from tests.support.faults import effects_compared
from tests.support.figures import report_figure
from tests.support.read_models import (
    LIVE_GROUP,
    differences,
    run_workload,
    snapshot,
    table_dump,
    wait_caught_up,
)


@pytest.mark.slow
def test_killed_worker_and_replays_leave_read_models_as_a_clean_run(
    stack, agents, api_url, client_factory, event_log
):
    with client_factory() as client:
        users = [register(client, "rp") for _ in range(8)]

    halfway, tweet_ids = threading.Event(), []
    burst = threading.Thread(target=run_workload, args=(client_factory, users, halfway, tweet_ids))
    burst.start()
    try:
        assert halfway.wait(120)
        killed = next(p for p in stack.processes if p.name == "agents" and p.running())
        killed.kill()  # SIGKILL mid-burst: no commit, no goodbye
        killed_at = time.monotonic()
        # Restarted from this (main) thread: children die with the thread that started them.
        stack.start_agents(**TEST_SETTINGS)
    finally:
        burst.join()
    event_log.sync()
    log_end = dict(event_log.ends)  # every event of the session so far, this burst included
    wait_caught_up(stack, LIVE_GROUP, "chirp:", log_end)
    recovered_after = time.monotonic() - killed_at
    live = snapshot(api_url, users, tweet_ids)

    target = f"clean_{uuid.uuid4().hex[:8]}"
    clean_env = {"CHIRP_READ_SCHEMA": target, "CHIRP_REDIS_PREFIX": f"{target}:"}
    first = stack.start_agents(**TEST_SETTINGS, **clean_env, CHIRP_AGENT_GROUP=f"{target}-1")
    wait_caught_up(stack, f"{target}-1", f"{target}:", log_end)
    first.stop()
    clean_url = stack.start_api(
        **TEST_PASSWORD_COST, **TEST_SETTINGS, **clean_env, CHIRP_AGENT_GROUP=f"{target}-1"
    )
    clean = snapshot(clean_url, users, tweet_ids)
    effects = effects_compared(live, clean)
    report_figure(
        f"FAULT agent worker SIGKILLed mid-burst: caught up with the log "
        f"{recovered_after:.1f}s after the kill (a new worker's start included); "
        f"{len(tweet_ids)} posts accepted in the burst; against a clean run of the log: "
        f"lost {effects['lost']}, duplicated {effects['duplicated']}"
    )
    assert effects == {"lost": 0, "duplicated": 0}
    assert differences(clean, live) == {}
    tables = table_dump(stack, target)

    # The same events once more, onto the same target.
    again = stack.start_agents(**TEST_SETTINGS, **clean_env, CHIRP_AGENT_GROUP=f"{target}-2")
    wait_caught_up(stack, f"{target}-2", f"{target}:", log_end)
    again.stop()
    assert table_dump(stack, target) == tables
    assert differences(snapshot(clean_url, users, tweet_ids), live) == {}
