"""Agents workers as a consumer group: two workers share every read model's partitions (each
worker's /metrics shows its own); one of them, the search index's writer, is SIGKILLed in the
middle of a burst of writes through the API, and the other takes over its partitions and the
index; then a third worker joins in the middle of another burst and takes its share.

No effect is lost or doubled: every post answered 201 is readable once, and what users read
(profiles, home and user timelines, followers, tweets with their counts, likes, searches and
notifications) equals what a clean replay of the same log builds (`chirp replay all`, into
fresh generations, handed over by the two live workers). Prints what it measured."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.processes import ManagedProcess
from operations.stack import LocalStack
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import TEST_SETTINGS, own_stack
from tests.support.clients import User, eventually, register
from tests.support.faults import (
    WriteLedger,
    effects_compared,
    post_steadily,
    running,
    settled_audit,
)
from tests.support.figures import report_figure
from tests.support.read_models import (
    LIVE_GROUP,
    all_pages,
    differences,
    notifications_snapshot,
    run_workload,
    snapshot,
    wait_caught_up,
)

pytestmark = pytest.mark.slow

CORE_GROUP = f"{LIVE_GROUP}-core"
WRITERS = 2
SEARCHES = ["step", "#burst", "post"]


def _assigned(worker: ManagedProcess, group: str = CORE_GROUP) -> set[tuple[str, int]]:
    """The partitions of `group` that `worker`'s /metrics shows assigned to it."""
    assert worker.metrics_url is not None
    text = httpx.get(worker.metrics_url, timeout=10).text
    return {
        (sample.labels["topic"], int(sample.labels["partition"]))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "chirp_agent_assigned_partitions"
        and sample.labels["group"] == group
        and sample.value == 1
    }


def _writes_search(worker: ManagedProcess) -> bool:
    assert worker.metrics_url is not None
    return "chirp_agent_search_writer 1.0" in httpx.get(worker.metrics_url, timeout=10).text


def _shared(workers: list[ManagedProcess], every: set[tuple[str, int]]) -> bool:
    """Whether `workers` own disjoint shares of `every` partition, each a non-empty one."""
    shares = [_assigned(worker) for worker in workers]
    return (
        all(shares)
        and sum(len(share) for share in shares) == len(every)
        and set().union(*shares) == every
    )


def _caught_up(stack: LocalStack, prefix: str = "chirp:") -> None:
    """Every read model of the event topics has applied the log to its end."""
    topics = topic_registry(stack.settings).event_topics()
    ends = log_end_offsets(stack.settings.bootstrap_servers, topics)
    target = {f"{topic}:{partition}": end - 1 for (topic, partition), end in ends.items() if end}
    for group in (LIVE_GROUP, f"{LIVE_GROUP}-notifications"):
        wait_caught_up(stack, group, prefix, target)
    searched = {
        place: offset
        for place, offset in target.items()
        if place.split(":")[0] in ("users", "tweets", "engagements")
    }
    wait_caught_up(stack, f"{LIVE_GROUP}-search", prefix, searched)


@contextmanager
def _burst(
    base_url: str,
    users: list[User],
    authors: list[User],
    name: str,
    ledger: WriteLedger,
    tweet_ids: list[str],
) -> Iterator[None]:
    """A workload of every kind of write by `users` (its tweets into `tweet_ids`), and
    `authors` posting steadily beside it: enters halfway through the workload; on the way
    out, waits for the workload to end, then stops the authors."""
    halfway, stop = threading.Event(), threading.Event()
    factory = partial(httpx.Client, base_url=base_url, timeout=60)
    workload = threading.Thread(target=run_workload, args=(factory, users, halfway, tweet_ids))
    writers = [
        partial(post_steadily, base_url, author, f"{name}{number}", ledger, stop, 0.05)
        for number, author in enumerate(authors)
    ]
    with running(stop, *writers):
        workload.start()
        try:
            assert halfway.wait(120)
            yield
        finally:
            workload.join(180)


def _view(base_url: str, users: list[User], tweet_ids: list[str]) -> dict:
    view = snapshot(base_url, users, tweet_ids) | notifications_snapshot(base_url, users)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for query in SEARCHES:
            view[f"search {query}"] = all_pages(client, "/api/v1/search", users[0], q=query)
    return view


def test_workers_share_the_partitions_and_a_killed_or_added_worker_loses_and_doubles_nothing():
    with own_stack() as (stack, base_url):
        first = next(item for item in stack.processes if item.name == "agents")
        second = stack.start_agents(**TEST_SETTINGS)
        every = {
            (topic.name, partition)
            for topic in topic_registry(stack.settings).event_topics()
            for partition in range(topic.partitions)
        }
        assert eventually(lambda: _shared([first, second], every), timeout=30), (
            _assigned(first),
            _assigned(second),
        )
        assert _writes_search(first) and not _writes_search(second)

        with httpx.Client(base_url=base_url, timeout=30) as client:
            users = [register(client, "wk") for _ in range(6)]
            authors = [register(client, "wa") for _ in range(WRITERS)]
        ledger = WriteLedger()

        # A burst; halfway through it the first worker is SIGKILLed.
        tweet_ids: list[str] = []
        with _burst(base_url, users, authors, "kill", ledger, tweet_ids):
            first.kill()
            killed = time.monotonic()
            assert eventually(lambda: _writes_search(second), timeout=30)
            took_index = time.monotonic() - killed
            assert eventually(lambda: _assigned(second) == every, timeout=60), _assigned(second)
            took_over = time.monotonic() - killed
            # Posts go on being taken and applied after the takeover.
            assert eventually(
                lambda: sum(at > killed + took_over for at in ledger.accepted_at) >= 20, timeout=60
            )
        _caught_up(stack)
        killed_audit = settled_audit(base_url, authors, ledger)

        # Another burst; halfway through it a third worker joins.
        with _burst(base_url, users, authors, "join", ledger, tweet_ids):
            joined = time.monotonic()
            third = stack.start_agents(**TEST_SETTINGS)
            assert eventually(lambda: _shared([second, third], every), timeout=60), (
                _assigned(second),
                _assigned(third),
            )
            shared_after = time.monotonic() - joined
            assert not _writes_search(third)  # it stands by for the index
        _caught_up(stack)
        joined_audit = settled_audit(base_url, authors, ledger)

        live = _view(base_url, users, tweet_ids)
        replay = subprocess.run(
            [sys.executable, "-m", "operations.cli", "replay", "all", "--keep-old"],
            env=stack.environment() | TEST_SETTINGS,
            capture_output=True,
            timeout=300,
        )
        assert replay.returncode == 0, replay.stdout.decode() + replay.stderr.decode()
        for read_model in ("core", "search", "notifications"):
            assert f"{read_model}: generation 1 -> 2" in replay.stdout.decode()
        _caught_up(stack, "chirp:g2:")
        clean = _view(base_url, users, tweet_ids)
        compared = effects_compared(live, clean)

        report_figure(
            f"FAULT agents workers: 2 sharing {len(every)} partitions per read model; "
            f"one SIGKILLed mid-burst, the other wrote the search index {took_index:.1f}s "
            f"and owned all of them {took_over:.1f}s later; a third joined mid-burst and had "
            "its share "
            f"{shared_after:.1f}s later; posts answered 201: {killed_audit['accepted']} then "
            f"{joined_audit['accepted']} in all, lost {killed_audit['lost']} + "
            f"{joined_audit['lost']}, duplicated {killed_audit['duplicated']} + "
            f"{joined_audit['duplicated']}; against a clean replay of the log "
            f"({len(clean)} views): lost {compared['lost']}, duplicated "
            f"{compared['duplicated']}, {len(differences(live, clean))} views differ"
        )
        for audit in (killed_audit, joined_audit):
            assert audit["lost"] == 0 and audit["duplicated"] == 0, audit
        assert compared == {"lost": 0, "duplicated": 0}
        assert differences(live, clean) == {}
