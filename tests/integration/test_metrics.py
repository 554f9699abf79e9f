"""Prometheus metrics: the API's request latency per route template, counted over all its
worker processes whichever one answers `/metrics`; and the agents' deliveries, fan-out lag by
event time, events applied, positions and dead letters."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from kafka import KafkaProducer
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from streams.topics import topic_registry
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import eventually, follow, home, post, register


def _samples(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_the_api_times_each_route_by_its_template(api_url, client):
    reader, author = register(client, "metr"), register(client, "meta")
    follow(client, reader, author)
    tweet_id = post(client, author, "measured")
    client.get(f"/api/v1/tweets/{tweet_id}")
    home(client, reader)
    samples = _samples(f"{api_url}/metrics")
    count = "chirp_http_request_duration_seconds_count"
    assert _total(samples, count, route="/api/v1/timeline/home", status="200") >= 1
    assert _total(samples, count, route="/api/v1/tweets/{tweet_id}", method="GET") >= 1
    assert not any(tweet_id in str(labels) for (_, labels) in samples)  # templates, not ids
    assert _total(samples, "chirp_writes_total", outcome="acknowledged") >= 3


def test_metrics_count_every_worker_whichever_answers(stack):
    base_url = stack.start_api(**TEST_PASSWORD_COST, **TEST_SETTINGS, CHIRP_API_WORKERS="2")
    # Where `python -m api` has its workers write their metrics (api/__main__.py).
    files = stack.data_dir / "metrics" / f"api-{base_url.rsplit(':', 1)[1]}"
    sent = 0

    def both_workers_served() -> bool:
        """Send another 20 requests, each on a connection of its own, four at a time."""
        nonlocal sent
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda _: httpx.get(f"{base_url}/healthz").status_code, range(20))
            )
        assert answers == [200] * 20
        sent += 20
        # A worker's histogram file exists from its first import (histograms without labels),
        # before it serves: count the workers whose file holds a timed /healthz request.
        pids = {
            found[1]
            for path in files.iterdir()
            if (found := re.fullmatch(r"histogram_(\d+)\.db", path.name))
            and any(
                '"/healthz"' in key and value > 0
                for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))
            )
        }
        return len(pids) == 2

    assert eventually(both_workers_served, timeout=30, interval=0), "one worker served all"
    count = "chirp_http_request_duration_seconds_count"
    for _ in range(10):  # each on a connection of its own: either worker may answer
        samples = _samples(f"{base_url}/metrics")
        assert _total(samples, count, route="/healthz") == sent
        assert _total(samples, "chirp_api_workers") == 2


def test_the_agents_show_deliveries_lag_progress_and_dead_letters(stack, agents, client):
    # The session's worker now (a fault test may have replaced the first one).
    [worker] = [
        process for process in stack.processes if process.name == "agents" and process.running()
    ]
    url = worker.metrics_url
    reader, author = register(client, "metr"), register(client, "meta")
    follow(client, reader, author)
    home(client, reader)  # the reader's timeline is in Redis: fan-out delivers to it
    before = _samples(url)
    post(client, author, "delivered")
    producer = KafkaProducer(bootstrap_servers=stack.settings.bootstrap_servers, acks="all")
    producer.send(topic_registry(stack.settings).tweets.name, b"not an event").get(10)
    producer.close()

    def moved() -> dict | None:
        after = _samples(url)
        grew = all(
            _total(after, name, **labels) > _total(before, name, **labels)
            for name, labels in [
                ("chirp_fanout_deliveries_total", {}),
                ("chirp_fanout_lag_seconds_count", {}),
                ("chirp_events_applied_total", {"read_model": "core", "topic": "tweets"}),
                ("chirp_events_applied_total", {"read_model": "notifications", "topic": "tweets"}),
                ("chirp_dead_letters_total", {"topic": "tweets"}),
            ]
        )
        return after if grew else None

    after = eventually(moved, timeout=15, interval=0.2)
    assert after, "the agents' metrics did not move"
    positions = [
        labels
        for (name, labels) in after
        if name == "chirp_consumer_position"
        and ("group", stack.settings.agent_group) in labels
        and ("topic", "tweets") in labels
    ]
    assert positions, "no position of the tweets topic"
