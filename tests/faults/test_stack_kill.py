"""Every process of the local stack SIGKILLed at once while clients post as fast as the API
takes them: the broker (which keeps the log in memory), the agents, the API, PostgreSQL and
Valkey. Started again on the same data directory, every post answered 201 is on the log and
in the read models, once.

The archive is made to lag first, as it does under load: the agents worker is stopped
(SIGSTOP) while the API goes on taking posts, so when the stack dies the broker holds
acknowledged events the archive never read.

What makes it hold: an acknowledged event leaves the API's outbox only once the archive holds
it (`CHIRP_OUTBOX_UNTIL_ARCHIVED`, on by default; marked acknowledged meanwhile), so whatever
the archive had not read yet when the stack died is still in the outbox; the restart writes
the archive back onto the new broker and clears the marks, and the API's relay sends the rest
again (a projection applies an event twice as once). Prints what it measured."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx
import psycopg
import pytest

from operations.stack import LocalStack
from schemas import events as ev
from streams.topics import topic_registry
from tests.conftest import start_on
from tests.support.clients import User, eventually, register
from tests.support.event_log import EventLog
from tests.support.faults import WriteLedger, running, settled_audit
from tests.support.figures import report_figure
from tests.support.read_models import all_pages

pytestmark = pytest.mark.slow

AUTHORS = 8
# Two API processes: each one's relay sees the other's outbox events.
API = {"CHIRP_API_WORKERS": "2"}
# Posts accepted before the agents are stopped, and while they are (none of these archived).
ACCEPTED_BEFORE_STALL = 300
ACCEPTED_WHILE_STALLED = 100


def _post_flat_out(
    base_url: str, author: User, name: str, ledger: WriteLedger, stop: threading.Event
) -> None:
    """Post unique contents back to back until `stop` or until the API is gone."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        number = 0
        while not stop.is_set():
            content = f"{name} post {number}"
            number += 1
            try:
                response = client.post(
                    "/api/v1/tweets",
                    json={"content": content},
                    headers=author.auth | {"Idempotency-Key": str(uuid.uuid4())},
                )
            except httpx.TransportError:
                return  # the stack is gone: this post was never answered
            with ledger.lock:
                ledger.statuses.append(response.status_code)
                if response.status_code == 201:
                    ledger.accepted[content] = response.json()["tweet_id"]
                    ledger.accepted_at.append(time.monotonic())


def _kill_everything(stack: LocalStack) -> int:
    """SIGKILL the process group of every process and server of `stack` in one sweep (no
    process is waited for before the last is signalled); returns how many groups."""
    groups = [item.popen.pid for item in stack.processes if item.running()]
    groups += [server.process.popen.pid for server in stack.servers if server.process.running()]
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    for item in [*stack.processes, *(server.process for server in stack.servers)]:
        item.kill()  # reaps it and any leftovers of its group
    stack.processes.clear()
    stack.servers.clear()
    return len(groups)


def _outbox_size(stack: LocalStack) -> int:
    with psycopg.connect(stack.settings.postgres) as conn:
        return conn.execute("SELECT count(*) FROM write_model.unconfirmed_events").fetchone()[0]


def test_every_accepted_post_survives_the_whole_stack_killed_at_once(data_dir):
    stack, base_url = start_on(data_dir, durable=True, **API)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            authors = [register(client, "kill") for _ in range(AUTHORS)]
        ledger, stop = WriteLedger(), threading.Event()
        writers = [
            lambda a=author, n=number: _post_flat_out(base_url, a, f"k{n}", ledger, stop)
            for number, author in enumerate(authors)
        ]
        with running(stop, *writers):
            started = time.monotonic()
            assert eventually(lambda: len(ledger.accepted) >= ACCEPTED_BEFORE_STALL, timeout=120)
            rate = len(ledger.accepted) / (time.monotonic() - started)
            agents = next(item for item in stack.processes if item.name == "agents")
            os.killpg(agents.popen.pid, signal.SIGSTOP)
            stalled_at = len(ledger.accepted)
            assert eventually(
                lambda: len(ledger.accepted) >= stalled_at + ACCEPTED_WHILE_STALLED, timeout=120
            )
            outbox_at_kill = _outbox_size(stack)
            groups = _kill_everything(stack)
        accepted = len(ledger.accepted)
        unarchived = accepted - stalled_at
    finally:
        stack.stop()

    stack, base_url = start_on(data_dir, durable=True, **API)
    try:
        figures = settled_audit(base_url, authors, ledger, timeout=120)
        report_figure(
            f"FAULT whole stack SIGKILLed ({groups} process groups) while {AUTHORS} clients "
            f"posted flat out ({rate:.0f} posts/s taken): {accepted} posts answered 201, "
            f"at least {unarchived} of them after the archive stopped reading; "
            f"{outbox_at_kill} events in the outbox at the kill; after the restart lost "
            f"{figures['lost']}, duplicated {figures['duplicated']}"
        )
        assert figures["lost"] == 0, figures
        assert figures["duplicated"] == 0, figures
        # On the log too: the restored archive and the outbox's resends together hold a
        # TweetPosted of every post answered 201 (a resent event may be on it twice).
        log = EventLog(
            stack.settings.bootstrap_servers,
            topic_registry(stack.settings),
            stack.settings.postgres,
        )
        try:
            on_log = {
                str(event.tweet_id) for event in log.sync() if isinstance(event, ev.TweetPosted)
            }
        finally:
            log.close()
        missing = sorted(set(ledger.accepted.values()) - on_log)
        assert not missing, f"{len(missing)} accepted posts not on the log, e.g. {missing[:3]}"
        # Counts agree with the rows: each tweet counted once. (A post the kill cut off before
        # its answer may have taken effect too: it counts, unanswered.)
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for number, author in enumerate(authors):
                shown = all_pages(client, f"/api/v1/users/{author.user_id}/tweets", author)
                profile = client.get(f"/api/v1/users/{author.user_id}").json()
                assert profile["tweet_count"] == len(shown), (author.username, profile)
                answered = sum(
                    1 for content in ledger.accepted if content.startswith(f"k{number} ")
                )
                assert len(shown) >= answered
    finally:
        stack.stop()
