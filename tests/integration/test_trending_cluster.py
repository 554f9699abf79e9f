"""The trending job on a Flink standalone session cluster: submitted at parallelism 2 with
checkpoints, its TaskManager SIGKILLed after a checkpoint and before the job's end, another
TaskManager started, and the rows are exactly those of the mini-cluster over the same input:
no window lost, none counted twice."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from streams.admin import ensure_topics
from streams.topics import TopicRegistry
from streams.trending import Cluster, run
from tests.support.clients import eventually
from tests.support.figures import report_figure
from tests.support.processes import listening_sockets, on_loopback
from tests.support.trending_input import (
    SLIDE,
    TOP_N,
    WINDOW,
    bounded_job,
    partition_of,
    posts,
    produce,
    read_all,
    with_resends,
    workload,
)
from tests.support.trends_reference import as_tuple, expected_rows

pytestmark = pytest.mark.slow

PARTITIONS = PARALLELISM = 2
JOB_ENDS = {"FINISHED", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def cluster(stack):
    """A JobManager and one TaskManager of two slots: one per reader of a partition."""
    cluster = stack.start_flink_cluster(slots=PARALLELISM)
    yield cluster
    cluster.stop()
    assert not cluster.pids()


def _topics(stack, name: str) -> TopicRegistry:
    registry = TopicRegistry(f"{name}-{uuid.uuid4().hex[:8]}-", partitions=PARTITIONS)
    ensure_topics(stack.settings.bootstrap_servers, registry)
    return registry


def test_a_killed_taskmanager_is_recovered_from_the_last_checkpoint_to_the_same_rows(
    stack, cluster, jars
):
    bootstrap = stack.settings.bootstrap_servers
    topics, reference = _topics(stack, "trend-cluster"), _topics(stack, "trend-mini")
    events = workload()
    records = with_resends(events)
    # The input ends where it will end once all three parts are written (the undecodable
    # record goes last, to partition 0): the job's readers wait there for the rest.
    ends = Counter(partition_of(event, PARTITIONS) for event in records)
    ends[0] += 1
    third = len(records) // 3
    parts = [records[:third], records[third : 2 * third], records[2 * third :]]

    def write(part: int) -> None:
        produce(
            bootstrap, topics.tweets.name, parts[part], partitions=PARTITIONS, undecodable=part == 2
        )

    def rows() -> list[dict]:
        return read_all(bootstrap, topics.trending.name)

    write(0)
    # No partition counts as idle while the test pauses between parts: an idle partition
    # would let the other's watermark run ahead of its events (docs/trending.md).
    job = replace(bounded_job(bootstrap, topics, ends), idle_timeout=timedelta(minutes=10))
    on_cluster = Cluster(
        cluster.rest_address,
        checkpoint_dir=str(cluster.work_dir / "checkpoints"),
        parallelism=PARALLELISM,
        # Checkpoints only when the test asks (the live test below has periodic ones).
        checkpoint_interval=timedelta(hours=1),
    )
    logs = stack.data_dir / "logs" / "flink"
    result = run(job, jars, log_dir=logs, cluster=on_cluster)
    job_id = str(result.get_job_client().get_job_id())

    # Windows of the first part written, then a checkpoint; windows of the second part
    # written after it: the killed TaskManager takes state the checkpoint does not have.
    assert eventually(rows, timeout=90)
    checkpoint = _checkpoint(cluster, job_id)
    written_at_checkpoint = len(rows())
    write(1)
    assert eventually(lambda: len(rows()) > written_at_checkpoint, timeout=60)
    (taskmanager,) = cluster.taskmanagers
    killed_at = time.monotonic()
    cluster.kill_taskmanager(taskmanager)
    assert cluster.get(f"/jobs/{job_id}")["state"] != "FINISHED"  # it waits for the third part

    write(2)
    cluster.start_taskmanager()
    result.wait(240_000)
    recovered_in = time.monotonic() - killed_at

    assert cluster.get(f"/jobs/{job_id}")["state"] == "FINISHED"
    restored = cluster.get(f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
    assert restored and restored["id"] == checkpoint
    on_the_cluster = read_all(bootstrap, topics.trending.name)

    # The mini-cluster, the default of `make run`, over the same (now whole) input.
    run(replace(job, sink_topic=reference.trending.name), jars, log_dir=logs).wait()
    on_the_mini_cluster = read_all(bootstrap, reference.trending.name)
    expected = {as_tuple(row) for row in on_the_mini_cluster}
    assert len(on_the_mini_cluster) == len(expected)
    assert expected == expected_rows(posts(events), WINDOW, SLIDE, TOP_N)

    # Delivery is at least once: rows written after the restored checkpoint are written
    # again, each the same as the first time, so consumers that upsert on
    # (window_end, region, hashtag) end with the mini-cluster's rows exactly.
    assert {as_tuple(row) for row in on_the_cluster} == expected
    by_key: dict[tuple, set] = {}
    for row in on_the_cluster:
        key = (row["window_end"], row["region"], row["hashtag"])
        by_key.setdefault(key, set()).add(as_tuple(row))
    assert all(len(versions) == 1 for versions in by_key.values())
    assert len(on_the_cluster) > len(expected)  # the second part's windows, twice
    report_figure(
        f"trending on a Flink session cluster (parallelism {PARALLELISM}): TaskManager "
        f"SIGKILLed, job restored checkpoint {checkpoint} and finished {recovered_in:.1f}s "
        f"after the kill; {len(on_the_cluster)} rows written for {len(expected)} (written "
        f"again after the restore: {len(on_the_cluster) - len(expected)})"
    )


def _checkpoint(cluster, job_id: str) -> int:
    """Have the job take a checkpoint now (Flink's REST API); return its id once complete."""
    response = httpx.post(f"{cluster.rest_url}/jobs/{job_id}/checkpoints", json={}, timeout=10)
    response.raise_for_status()
    trigger = response.json()["request-id"]

    def completed() -> dict | None:
        answer = cluster.get(f"/jobs/{job_id}/checkpoints/{trigger}")
        return answer if answer["status"]["id"] == "COMPLETED" else None

    done = eventually(completed, timeout=60, interval=0.2)
    assert done and done["operation"].get("checkpointId") is not None, done
    return done["operation"]["checkpointId"]


def test_chirp_trending_submits_the_live_job_to_the_cluster_and_cancels_it_on_stop(stack, cluster):
    # The stack's topics have 4 partitions, each with a reader of its own: 4 slots.
    cluster.start_taskmanager()
    trending = stack.start_trending(
        CHIRP_TRENDING_JOBMANAGER=cluster.rest_address,
        CHIRP_TRENDING_CHECKPOINT_INTERVAL_SECONDS="1",
    )
    (job,) = [job for job in cluster.get("/jobs")["jobs"] if job["status"] not in JOB_ENDS]
    assert eventually(lambda: cluster.get(f"/jobs/{job['id']}")["state"] == "RUNNING", 60)
    assert f"job {job['id']} on {cluster.rest_address}, parallelism 2" in trending.tail()
    vertices = {
        vertex["name"]: vertex["parallelism"]
        for vertex in cluster.get(f"/jobs/{job['id']}")["vertices"]
    }
    readers = stack.settings.partitions
    (source,) = [name for name in vertices if "tweet_events" in name]
    assert vertices[source] == readers, vertices
    assert PARALLELISM in vertices.values(), vertices
    report_figure(
        "the live job's tasks on the cluster: "
        + ", ".join(f"{parallelism} x {name[:60]}" for name, parallelism in vertices.items())
    )
    exposed = [
        (pid, str(address), port)
        for pid, address, port in listening_sockets(cluster.pids())
        if not on_loopback(address)
    ]
    assert exposed == []
    config = cluster.get(f"/jobs/{job['id']}/checkpoints/config")
    assert config["mode"] == "exactly_once"
    assert config["checkpoint_storage"] == "FileSystemCheckpointStorage"
    assert eventually(
        lambda: cluster.get(f"/jobs/{job['id']}/checkpoints")["counts"]["completed"],
        timeout=60,
        interval=0.2,
    )
    assert any((stack.data_dir / "flink-checkpoints" / job["id"]).glob("chk-*"))

    trending.stop()  # SIGTERM: the command cancels its job
    assert eventually(lambda: cluster.get(f"/jobs/{job['id']}")["state"] == "CANCELED", timeout=30)
