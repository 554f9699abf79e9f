"""Prometheus metrics: what the API and the agents are doing, for `/metrics`.

The API serves its own at `/metrics`, those of all its worker processes together
(prometheus_client's multiprocess mode: each worker writes its values to files in
PROMETHEUS_MULTIPROC_DIR, which `python -m api` sets before any worker starts); the agents
worker serves its own on `CHIRP_AGENTS_METRICS_PORT` (the local stack picks a free one).
Rates (deliveries/s, events/s) are PromQL's `rate()` over the counters."""

from __future__ import annotations

import os
import re

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# API ---------------------------------------------------------------------------------------
REQUEST_SECONDS = Histogram(
    "chirp_http_request_duration_seconds",
    "API request latency, by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WRITES = Counter(
    "chirp_writes_total",
    "Writes by outcome: acknowledged (answered), unconfirmed (kept in the outbox)",
    ["outcome"],
)
LOGIN_LOCKOUTS = Counter(
    "chirp_login_lockouts_total",
    "Lockouts started by failed logins, by key: username or address",
    ["key"],
)
# Each worker adds 1 while it lives: the sum over live workers (a dead one's file is dropped).
API_WORKERS = Gauge(
    "chirp_api_workers", "API worker processes serving", multiprocess_mode="livesum"
)
# Live updates (api/streaming.py): streams open in every worker, and those dropped for falling
# behind.
STREAMS_OPEN = Gauge("chirp_streams_open", "Live-update streams open", multiprocess_mode="livesum")
STREAM_DROPS = Counter(
    "chirp_stream_drops_total", "Live-update streams dropped: the client fell too far behind"
)

# Agents ------------------------------------------------------------------------------------
EVENTS_APPLIED = Counter(
    "chirp_events_applied_total", "Events applied, by read model and topic", ["read_model", "topic"]
)
FANOUT_LAG_SECONDS = Histogram(
    "chirp_fanout_lag_seconds",
    "From an event's time to its fan-out",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
FANOUT_DELIVERIES = Counter(
    "chirp_fanout_deliveries_total", "Entries delivered into home timelines"
)
DEAD_LETTERS = Counter(
    "chirp_dead_letters_total", "Records dead-lettered, by source topic", ["topic"]
)
CONSUMER_POSITION = Gauge(
    "chirp_consumer_position",
    "Last applied offset, by consumer group and partition",
    ["group", "topic", "partition"],
    # one consumer owns a partition at a time: its latest position counts
    multiprocess_mode="mostrecent",
)
# Agents workers share each read model's partitions (a consumer group per read model): each
# worker shows the partitions assigned to it now, 1 each, gone once they are revoked.
ASSIGNED_PARTITIONS = Gauge(
    "chirp_agent_assigned_partitions",
    "Partitions assigned to this worker, by consumer group",
    ["group", "topic", "partition"],
)
SEARCH_WRITER = Gauge(
    "chirp_agent_search_writer",
    "1 if this worker writes the search index (tantivy has one writer), else 0",
)


def api_registry() -> CollectorRegistry:
    """What the API's `/metrics` shows: every worker's metrics when they are in files (the
    default registry would show only this process's), else this process's."""
    if MULTIPROCESS_DIR not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def worker_started() -> None:
    """Count this API worker among the live ones, and drop the live gauges of workers that
    died without saying so (killed: uvicorn starts another in their place)."""
    API_WORKERS.set(1)
    directory = os.environ.get(MULTIPROCESS_DIR)
    if directory is None:
        return
    for name in os.listdir(directory):
        if (found := _LIVE_GAUGE_FILE.fullmatch(name)) and not _alive(int(found[1])):
            multiprocess.mark_process_dead(int(found[1]), directory)


def worker_stopping() -> None:
    """Drop this worker's live gauges; its counters stay in the totals."""
    if MULTIPROCESS_DIR in os.environ:
        multiprocess.mark_process_dead(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        pass
    return True
