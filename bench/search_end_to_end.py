"""The search benchmark's end-to-end part: through a local stack (agents + API), post ->
searchable and delete -> gone, beside post -> visible in the author's own home timeline."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agents.search import SEARCH_BATCHING
from bench.measure import BENCH_API, at_steady_rate, p50_p99
from infra.settings import Settings
from operations.stack import LocalStack
from projections.search_query import parse_search_query
from projections.tantivy_search import TantivySearchIndex


def run_end_to_end(texts: list[str], args) -> dict:
    """A local stack with the embedded engine (the default): agents, then the API."""
    engine = {"CHIRP_SEARCH_ENGINE": "tantivy"}
    # Its own directory: PostgreSQL's unprivileged user must be able to enter it.
    data_dir = Path(tempfile.mkdtemp(prefix="chirp-bench-search-stack-"))
    stack = LocalStack(Settings(data_dir=data_dir, search_engine="tantivy"), ephemeral=True)
    try:
        settings = stack.start()
        stack.start_agents(**engine)
        base_url = stack.start_api(**BENCH_API, **engine)
        return asyncio.run(measure_end_to_end(base_url, settings, texts, args))
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Watch:
    """One place a tweet shows up: when each was first seen there, and first missed there
    by a poll that began after its deletion was requested."""

    fetch: Callable[[], Awaitable[set[int]]]
    seen: dict[int, float] = field(default_factory=dict)
    gone: dict[int, float] = field(default_factory=dict)

    async def run(self, deleting: dict[int, float], stop: asyncio.Event, pause: float) -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            ids = await self.fetch()
            now = time.perf_counter()
            for tweet_id in ids:
                self.seen.setdefault(tweet_id, now)
            for tweet_id, requested in list(deleting.items()):
                if asked >= requested and tweet_id not in ids:
                    self.gone.setdefault(tweet_id, now)
            await asyncio.sleep(pause)


async def measure_end_to_end(base_url: str, settings: Settings, texts: list[str], args) -> dict:
    """A new user posts tweets carrying one rare word at a steady rate, then deletes them at
    the same rate, while watchers poll the search API, the index itself (as the API's reader
    opens it) and the author's own home timeline."""
    rng = random.Random(23)
    marker = "zq" + uuid.uuid4().hex[:10]
    fits = [text for text in texts if len(text) + len(marker) < 280]
    index = TantivySearchIndex(settings.search_directory)
    await index.setup()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        auth = await _register(http)

        async def ids(path: str, **headers) -> set[int]:
            response = await http.get(path, params={"q": marker, "limit": 100}, headers=headers)
            response.raise_for_status()
            return {int(tweet["tweet_id"]) for tweet in response.json()["tweets"]}

        async def in_index() -> set[int]:
            page = await index.search(parse_search_query(marker), None, 100)
            return {hit.tweet_id for hit in page.hits}

        watches = {
            "search_api": Watch(lambda: ids("/api/v1/search")),
            "search_index": Watch(in_index),
            "home_timeline": Watch(lambda: ids("/api/v1/timeline/home", **auth)),
        }
        for watch in watches.values():  # warm: the first read of each builds its caches
            await watch.fetch()
        posted, deleting, post_latency, delete_latency = {}, {}, [], []

        async def post(text: str) -> None:
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/tweets", json={"content": f"{text} {marker}"}, headers=auth
            )
            post_latency.append(time.perf_counter() - started)
            response.raise_for_status()
            posted[int(response.json()["tweet_id"])] = started

        async def delete(tweet_id: int) -> None:
            deleting[tweet_id] = time.perf_counter()
            response = await http.delete(f"/api/v1/tweets/{tweet_id}", headers=auth)
            delete_latency.append(time.perf_counter() - deleting[tweet_id])
            response.raise_for_status()

        stop = asyncio.Event()
        watching = [
            asyncio.create_task(watch.run(deleting, stop, args.poll_ms / 1000))
            for watch in watches.values()
        ]
        await at_steady_rate(post, rng.sample(fits, args.posts), args.post_rate)
        await _until(
            lambda: all(set(posted) <= set(w.seen) for w in watches.values()), "found", watching
        )
        await at_steady_rate(delete, list(posted), args.post_rate)
        await _until(
            lambda: all(set(posted) <= set(w.gone) for w in watches.values()), "gone", watching
        )
        stop.set()
        await asyncio.gather(*watching)
    await index.close()
    lag = {
        name: {
            "post_to_seen": _lags(posted, watch.seen),
            "delete_to_gone": _lags(deleting, watch.gone),
        }
        for name, watch in watches.items()
    }
    return {
        "engine": "tantivy",
        "posts": args.posts,
        "rate_per_s": args.post_rate,
        "poll_pause_ms": args.poll_ms,
        "search_fetch_wait_ms": SEARCH_BATCHING.fetch_wait_ms,
        "search_interval_ms": SEARCH_BATCHING.interval_ms,
        "search_batch": SEARCH_BATCHING.max_records,
        "post_latency": p50_p99(post_latency),
        "delete_latency": p50_p99(delete_latency),
        "lag": lag,
    }


async def _register(http: httpx.AsyncClient) -> dict[str, str]:
    username = f"bench{uuid.uuid4().hex[:8]}"
    response = await http.post(
        "/api/v1/users",
        json={"username": username, "display_name": "Search bench", "password": uuid.uuid4().hex},
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _until(
    done: Callable[[], bool], what: str, watching: list[asyncio.Task], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        for task in watching:
            if task.done():
                task.result()  # a watcher that failed says why
        if time.monotonic() > deadline:
            raise RuntimeError(f"tweets not all {what} everywhere after {timeout} s")
        await asyncio.sleep(0.05)


def _lags(started: dict[int, float], reached: dict[int, float]) -> dict:
    return p50_p99([reached[tweet_id] - moment for tweet_id, moment in started.items()])
