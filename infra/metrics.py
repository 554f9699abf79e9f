"""Prometheus metrics: what the API and the agents are doing, for `/metrics`.

The API serves its own at `/metrics`; the agents worker serves its own on
`CHIRP_AGENTS_METRICS_PORT` (the local stack picks a free one). Rates (deliveries/s,
events/s) are PromQL's `rate()` over the counters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# API ---------------------------------------------------------------------------------------
REQUEST_SECONDS = Histogram(
    "chirp_http_request_duration_seconds", "API request latency, by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WRITES = Counter("chirp_writes_total",
                 "Writes by outcome: acknowledged (answered), unconfirmed (kept in the outbox)",
                 ["outcome"])
LOGIN_LOCKOUTS = Counter("chirp_login_lockouts_total",
                         "Lockouts started by failed logins, by key: username or address",
                         ["key"])

# Agents ------------------------------------------------------------------------------------
EVENTS_APPLIED = Counter("chirp_events_applied_total", "Events applied, by topic", ["topic"])
FANOUT_LAG_SECONDS = Histogram(
    "chirp_fanout_lag_seconds", "From an event's time to its fan-out",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
FANOUT_DELIVERIES = Counter("chirp_fanout_deliveries_total",
                            "Entries delivered into home timelines")
DEAD_LETTERS = Counter("chirp_dead_letters_total", "Records dead-lettered, by source topic",
                       ["topic"])
CONSUMER_POSITION = Gauge("chirp_consumer_position",
                          "Last applied offset, by consumer group and partition",
                          ["group", "topic", "partition"])
