"""The ingest benchmark's scale-out step: the same backlog applied by 1, then 2 agents workers.

Each run starts its workers at once on read models and consumer groups of its own (a fresh
agent group, read schema, Redis prefix and search index), every user with a home timeline, the
live worker stopped meanwhile, so that the runs differ only in the number of workers. The
archive has read the log before either run, so neither archives anything. Measured per run:
the core read models' events/s from their first recorded batch to the end of the log (as the
live figure), the time until the core, notifications and search read models had all applied
it, and the CPU each part of the stack used over that time.
"""

from __future__ import annotations

import shutil
import time

import psycopg
import redis

from bench.loading import open_timelines
from bench.profile import cpu_seconds
from infra.settings import Settings
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from streams.admin import log_end_offsets
from streams.topics import Topic

WORKER_COUNTS = (1, 2)
POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 3600
SEARCHED_TOPICS = ("users", "tweets", "engagements")


def measure_workers(
    stack: LocalStack, settings: Settings, topics: list[Topic], users: list[int]
) -> list[dict]:
    """One run per count of WORKER_COUNTS, in turn."""
    live = [item for item in stack.processes if item.name == "agents" and item.running()]
    for worker in live:  # it would share the machine's cores with the measured workers
        worker.stop()
        stack.processes.remove(worker)
    runs = []
    for count in WORKER_COUNTS:
        run = _run(stack, settings, topics, users, count)
        print(run, flush=True)
        runs.append(run)
    return runs


def _run(
    stack: LocalStack, settings: Settings, topics: list[Topic], users: list[int], count: int
) -> dict:
    name = f"workers{count}"
    fresh = settings.model_copy(
        update={
            "agent_group": f"bench-{name}",
            "read_schema": f"read_model_{name}",
            "redis_prefix": f"bench-{name}:",
        }
    )
    open_timelines(fresh, users)
    ends = {
        place: end
        for place, end in log_end_offsets(settings.bootstrap_servers, topics).items()
        if end
    }
    before, launched = cpu_seconds(stack), time.perf_counter()
    workers = stack.start_agent_workers(
        count,
        CHIRP_AGENT_GROUP=fresh.agent_group,
        CHIRP_READ_SCHEMA=fresh.read_schema,
        CHIRP_REDIS_PREFIX=fresh.redis_prefix,
    )
    try:
        done = _applied_through(fresh, ends)
        after, seconds = cpu_seconds(stack), time.perf_counter() - launched
    finally:
        for worker in workers:
            worker.stop()
            stack.processes.remove(worker)
    _drop(fresh)
    total = sum(ends.values())
    core_seconds = done["core"] - done["first_batch"]
    return {
        "workers": count,
        "events": total,
        "core_per_s": round((total - done["first_batch_events"]) / core_seconds),
        "core_seconds": round(core_seconds, 2),
        "all_read_models_seconds": round(done["all"] - done["first_batch"], 2),
        "start_seconds": round(done["first_batch"], 2),
        # CPU seconds of each part from the launch to the last read model done: the agents'
        # share of it is what the capacity model divides by (docs/deploy.md).
        "cpu_seconds": {
            part: round(after[part] - before.get(part, 0.0), 1)
            for part in sorted(after, key=lambda p: before.get(p, 0.0) - after[p])
            if after[part] - before.get(part, 0.0) >= 0.05
        },
        "seconds": round(seconds, 2),
    }


def _applied_through(fresh: Settings, ends: dict[tuple[str, int], int]) -> dict:
    """Seconds from now until the first core batch, the core read models and then every read
    model (core, notifications, search) had applied the log to `ends`; polled every 10 ms."""
    keys = RedisKeys(fresh.redis_prefix)
    client = redis.Redis.from_url(fresh.redis)
    groups = {
        "core": (fresh.agent_group, ends),
        "notifications": (f"{fresh.agent_group}-notifications", ends),
        "search": (
            f"{fresh.agent_group}-search",
            {place: end for place, end in ends.items() if place[0] in SEARCHED_TOPICS},
        ),
    }
    names = {
        read_model: [keys.position(group, *place) for place in places]
        for read_model, (group, places) in groups.items()
    }
    started = time.perf_counter()
    done: dict = {}
    while not all(read_model in done for read_model in groups):
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise TimeoutError(f"{fresh.agent_group} did not apply the log: {done}")
        for read_model, (_, places) in groups.items():
            if read_model in done:
                continue
            applied = sum(int(v) + 1 for v in client.mget(names[read_model]) if v is not None)
            if read_model == "core" and applied and "first_batch" not in done:
                done["first_batch"] = time.perf_counter() - started
                done["first_batch_events"] = applied
            if applied >= sum(places.values()):
                done[read_model] = time.perf_counter() - started
        time.sleep(POLL_SECONDS)
    done["all"] = max(done[read_model] for read_model in groups)
    return done


def _drop(fresh: Settings) -> None:
    """Drop a run's read models, so that the next run and the posting steps have the memory."""
    with psycopg.connect(fresh.postgres, autocommit=True) as conn:
        for schema in (fresh.core_schema, fresh.notifications_schema):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    client = redis.Redis.from_url(fresh.redis)
    batch = []
    for key in client.scan_iter(match=f"{fresh.redis_prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
    shutil.rmtree(fresh.search_directory, ignore_errors=True)


def worker_lines(runs: list[dict]) -> list[str]:
    """The 1-worker and 2-worker runs on the same backlog, side by side."""
    if not runs:
        return []
    lines = [
        "**Agents workers** on the same backlog, each run on fresh read models and consumer "
        "groups (the workers started together; the archive already complete, so neither run "
        "archives). Core: events/s from the first recorded batch to the end of the log; all "
        "read models: until core, notifications and search had applied it. CPU: seconds each "
        "part used from the workers' start to the end, and per second of it (cores busy):",
        "",
        "| workers | core events/s | core applied in | all read models applied in | "
        "agents CPU s (cores busy) | log events per agents CPU s | the rest, cores busy |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        cpu = run["cpu_seconds"]
        agents = cpu.get("agents", 0.0)
        rest = ", ".join(
            f"{part} {used / run['seconds']:.2f}"
            for part, used in cpu.items()
            if part != "agents" and used / run["seconds"] >= 0.01
        )
        lines.append(
            f"| {run['workers']} | {run['core_per_s']:,} | {run['core_seconds']} s | "
            f"{run['all_read_models_seconds']} s | {agents} ({agents / run['seconds']:.2f}) | "
            f"{run['events'] / agents:,.0f} | {rest} |"
        )
    if len(runs) >= 2:
        one, two = runs[0], runs[1]
        core = two["core_per_s"] / one["core_per_s"]
        every = one["all_read_models_seconds"] / two["all_read_models_seconds"]
        lines += [
            "",
            f"- 2 workers against 1: core x{core:.2f}, all read models x{every:.2f} (the "
            "machine's 2 cores are shared with the broker, PostgreSQL and Valkey).",
        ]
    return [*lines, ""]
