"""Where the time goes: py-spy samples of the agents worker, and CPU per process of the stack.

`sampling(pid, path)` records raw py-spy stacks (100 samples/s) while its block runs;
`summary(path)` sums them into the categories of CATEGORIES (the first that matches a
sample's stack wins), as shares of all samples. `cpu_seconds(stack)` is the CPU time each
part of a local stack (and this process) has used so far.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import psutil

# (category, what a sample's stack holds), tried in order: the agents worker's, then the API's.
CATEGORIES = [
    ("idle: waiting on I/O", lambda leaf, stack: leaf.startswith("EpollSelector.select")),
    ("archive consumer", lambda leaf, stack: "apply_archive" in stack),
    ("search consumer", lambda leaf, stack: "apply_search" in stack),
    (
        "core: decoding events (pydantic)",
        lambda leaf, stack: "_apply_core" in stack and "decode (schemas/events.py" in stack,
    ),
    (
        "core: Redis round trips (redis-py)",
        lambda leaf, stack: (
            "_apply_core" in stack
            and ("RedisBatch.execute" in stack or "RedisTimelines.pages" in stack)
        ),
    ),
    (
        "core: building the Redis writes",
        lambda leaf, stack: (
            "_apply_core" in stack
            and any(
                name in stack for name in ("_queue_", "queue_writes", "_deliver", "TimelineWrites")
            )
        ),
    ),
    ("core: planning (pure)", lambda leaf, stack: "_apply_core" in stack and "plan_" in stack),
    (
        "core: PostgreSQL statements (psycopg)",
        lambda leaf, stack: (
            "_apply_core" in stack and ("psycopg" in stack or "_write_postgres" in stack)
        ),
    ),
    ("core: other", lambda leaf, stack: "_apply_core" in stack),
    ("consuming (aiokafka)", lambda leaf, stack: "aiokafka" in stack or "BatchConsumer" in stack),
    ("Faust worker and trends agent", lambda leaf, stack: "faust" in stack or "mode/" in stack),
    ("other", lambda leaf, stack: True),
]
API_CATEGORIES = [
    (
        "idle: waiting on I/O",
        lambda leaf, stack: leaf.startswith(("EpollSelector.select", "select (selectors")),
    ),
    (
        "event loop in native code (uvloop: sockets, callbacks)",
        lambda leaf, stack: leaf.startswith("Runner.run"),
    ),
    (
        "Kafka producer (kafka-python: its sender thread and send)",
        lambda leaf, stack: "kafka/" in stack or "EventProducer" in stack,
    ),
    (
        "PostgreSQL write-model transaction (psycopg)",
        lambda leaf, stack: "psycopg" in stack or "commands/postgres_write_model" in stack,
    ),
    ("Redis: rate limits, the read-your-writes ledger", lambda leaf, stack: "redis" in stack),
    (
        "the command (decide, outbox bookkeeping)",
        lambda leaf, stack: "api/routes" in stack or "commands/" in stack,
    ),
    (
        "HTTP: uvicorn, Starlette/FastAPI, middleware",
        lambda leaf, stack: any(name in stack for name in ("uvicorn", "starlette", "fastapi")),
    ),
    ("other", lambda leaf, stack: True),
]


@contextmanager
def sampling(pid: int, path: Path, subprocesses: bool = False):
    """py-spy recording `pid` (and its children, if `subprocesses`) for as long as the block
    runs (nothing if py-spy is missing)."""
    # Installed beside this interpreter (a venv's bin/ is not always on PATH).
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("py-spy is not installed: no profile", flush=True)
        yield
        return
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--output",
            str(path),
            "--format",
            "raw",
            "--rate",
            "100",
            "--nonblocking",
            *(["--subprocesses"] if subprocesses else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        recorder.wait(60)


def summary(path: Path, categories=CATEGORIES) -> dict[str, float]:
    """Each category's share of the samples in a raw py-spy file."""
    counts: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, samples = line.rsplit(" ", 1)
        leaf = stack.rsplit(";", 1)[-1]
        name = next(name for name, holds in categories if holds(leaf, stack))
        counts[name] += int(samples)
    total = sum(counts.values()) or 1
    return {name: round(count / total, 3) for name, count in counts.most_common()}


def cpu_seconds(stack) -> dict[str, float]:
    """CPU seconds used so far by each part of `stack` (a process and all its children,
    PostgreSQL's backends included) and by this process (the load generator)."""
    parts = [(item.name, item.pid) for item in stack.processes if item.running()]
    parts += [(server.process.name, server.process.pid) for server in stack.servers]
    used: dict[str, float] = {}
    for name, pid in parts:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            try:
                times = process.cpu_times()
                used[name] = used.get(name, 0.0) + times.user + times.system
            except psutil.NoSuchProcess:
                continue
    own = psutil.Process().cpu_times()
    used["bench (load generator)"] = own.user + own.system
    return used
