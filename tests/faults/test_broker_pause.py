"""The broker stalls for 10 s (SIGSTOP, then SIGCONT) while clients post.

Writes answer 503 within a bound, never hang; the service recovers by itself when the broker
resumes; every post answered 201 is there once; no post is there twice, though a stalled
broker appends, when it resumes, requests whose writes were answered 503 (those writes were
kept as unconfirmed and take effect once: commands/write_model.py). Prints what it measured.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from functools import partial

import httpx
import psycopg
import pytest

from infra.servers import KafkaServer
from tests.conftest import own_stack
from tests.support.clients import eventually, register
from tests.support.faults import WriteLedger, post_steadily, running, settled_audit
from tests.support.figures import report_figure

pytestmark = pytest.mark.slow

PRODUCE_TIMEOUT_MS = 2000
STALL_SECONDS = 10
# The longest a write may take to answer while the broker is stalled: the produce timeout,
# a reconnection attempt, and a margin for a busy machine.
ANSWER_BOUND_SECONDS = 2 * PRODUCE_TIMEOUT_MS / 1000 + 3
# How long after the audit the outbox may still hold events: the resend age (produce timeout
# + 2 s, commands/runner.py), a relay interval, a resend, and a margin for a busy machine.
OUTBOX_BOUND_SECONDS = PRODUCE_TIMEOUT_MS / 1000 + 2 + 1 + 5


def test_writes_during_a_ten_second_broker_stall_answer_in_time_and_none_is_lost_or_doubled():
    with own_stack(CHIRP_PRODUCE_TIMEOUT_MS=str(PRODUCE_TIMEOUT_MS)) as (stack, base_url):
        with httpx.Client(base_url=base_url, timeout=30) as client:
            authors = [register(client, "stall") for _ in range(3)]
        ledger, stop = WriteLedger(), threading.Event()
        with running(
            stop,
            *(
                partial(post_steadily, base_url, author, f"w{n}", ledger, stop)
                for n, author in enumerate(authors)
            ),
        ):
            time.sleep(2)
            broker = next(server for server in stack.servers if isinstance(server, KafkaServer))
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                time.sleep(STALL_SECONDS)
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
                resumed_at = time.monotonic()
            recovered_after = ledger.recovered_after(resumed_at)
            time.sleep(3)

        figures = settled_audit(base_url, authors, ledger)
        # The outbox empties by itself: acknowledged events leave it within a confirmation
        # interval, the others are sent again once older than the resend age.
        with psycopg.connect(stack.settings.postgres, autocommit=True) as conn:

            def outbox_size() -> int:
                return conn.execute(
                    "SELECT count(*) FROM write_model.unconfirmed_events"
                ).fetchone()[0]

            emptied = eventually(
                lambda: outbox_size() == 0, timeout=OUTBOX_BOUND_SECONDS, interval=0.1
            )
            emptied_after = time.monotonic() - resumed_at
            left = outbox_size()
        report_figure(
            f"FAULT broker stalled {STALL_SECONDS}s: {len(ledger.statuses)} answers, "
            f"{ledger.statuses.count(503)} of them 503 ({ledger.kept_answers} 'write "
            f"unconfirmed', kept), slowest {ledger.slowest_answer:.1f}s "
            f"(bound {ANSWER_BOUND_SECONDS:.0f}s); first 201 {recovered_after:.1f}s after the "
            f"broker resumed; accepted {figures['accepted']}, lost {figures['lost']}, "
            f"duplicated {figures['duplicated']}; answered 503 in the end: "
            f"{figures['unconfirmed']} kept (applied {figures['unconfirmed_applied']}), "
            f"{figures['refused']} refused (applied {figures['refused_applied']}); "
            + (
                f"outbox empty {emptied_after:.1f}s after the broker resumed"
                if emptied
                else f"unconfirmed events left {left} after {OUTBOX_BOUND_SECONDS:.0f}s more"
            )
        )
        assert ledger.first_refusal is not None, "the stall was not felt"
        # Writes in flight when the broker stalled: sent, so kept, and applied once.
        assert ledger.kept_answers > 0
        assert ledger.server_errors() == [], "\n".join(
            process.tail(150) for process in stack.processes if process.name == "api"
        )
        assert ledger.slowest_answer < ANSWER_BOUND_SECONDS
        assert recovered_after < 10
        assert figures["accepted"] > 0 and figures["lost"] == 0, figures
        assert figures["duplicated"] == 0, figures
        assert figures["refused_applied"] == 0, figures
        assert figures["unconfirmed_applied"] == figures["unconfirmed"], figures
        assert emptied, f"{left} events still in the outbox"
