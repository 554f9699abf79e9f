"""The ingest benchmark's second half: sustained posting through the API at stepped rates."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from contextlib import AsyncExitStack
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import psycopg
from redis.asyncio import Redis

from api.security import Tokens
from bench.loading import open_timelines
from bench.measure import BENCH_API, closed_loop, percentile
from bench.profile import API_CATEGORIES, cpu_seconds, sampling, summary
from bench.timeline import produce_floor
from infra.settings import Settings
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from projections.targets import current_now
from projections.timeline_entries import Entry, encode

# A step the API took in full: at least this share of the offered rate.
TAKEN_IN_FULL = 0.95
# The bound on post -> visible p99 of a sustainable rate.
VISIBLE_P99_BOUND_S = 1.0
AUTHORS = 40
PRODUCER_SECONDS = 20.0


async def measure_posting(
    stack: LocalStack, settings: Settings, args, corpus: list[str], users: list[int]
) -> dict:
    authors, followers = _authors(settings, args.author_followers)
    base_url = stack.start_api(**BENCH_API, CHIRP_API_WORKERS=str(args.api_workers))
    tokens = Tokens(settings.jwt_secret, 3600)
    headers = {
        author: {"Authorization": f"Bearer {tokens.issue(author, f'u{author}'[:15])}"}
        for author, _ in authors
    }
    with psycopg.connect(settings.postgres) as conn:
        keys = RedisKeys(current_now(conn, settings).core_prefix, root=settings.redis_prefix)
    # The replay built a generation without home timelines (each is built on its reader's
    # next read): every user reads again.
    open_timelines(settings, users, keys)
    rng = random.Random(5)
    steps = []
    api = next(item for item in reversed(stack.processes) if item.name == "api")
    profile_path = Path(__file__).parent / "results" / "ingest-api-profile.txt"
    async with (
        aiohttp.ClientSession(base_url) as http,
        Redis.from_url(settings.redis) as watcher,
        AsyncExitStack() as profiling,
    ):
        if args.profile:
            profiling.enter_context(sampling(api.pid, profile_path, subprocesses=True))
        for rate in args.rates:
            before, started = cpu_seconds(stack), time.perf_counter()
            step = await _step(http, watcher, keys, authors, headers, corpus, rng, rate, args)
            after, seconds = cpu_seconds(stack), time.perf_counter() - started
            # Cores each part kept busy over the step: the machine has os.cpu_count() of them.
            step["cores_busy"] = {
                name: round((after[name] - before.get(name, 0.0)) / seconds, 2)
                for name in sorted(after, key=lambda n: before.get(n, 0.0) - after[n])
            }
            steps.append(step)
            print(step, flush=True)
            if step["taken_per_s"] < TAKEN_IN_FULL * rate:
                break  # saturated: higher offers only queue
    profile = None
    if args.profile and profile_path.exists():
        profile = summary(profile_path, API_CATEGORIES)
        profile_path.unlink()
    producer = await _producer_saturation(settings, corpus, rng, args.clients)
    sustainable = [
        step["taken_per_s"]
        for step in steps
        if step["visible_p99_ms"] <= VISIBLE_P99_BOUND_S * 1000
    ]
    saturation = max(step["taken_per_s"] for step in steps)
    return {
        "steps": steps,
        "clients": args.clients,
        "api_workers": args.api_workers,
        "step_seconds": args.step_seconds,
        "authors": len(authors),
        "author_followers": followers,
        "sustainable_per_s": max(sustainable, default=0.0),
        "api_saturation_per_s": round(saturation, 1),
        "producer_saturation_per_s": round(producer, 1),
        "api_to_producer": round(saturation / producer, 3),
        "api_profile": profile,
    }


def _authors(settings: Settings, followers: int):
    """The AUTHORS users whose follower counts are nearest `followers`, each with one
    follower to watch (the rest of their followers are pushed to as well); accounts for them in
    the API's write model (their registrations went straight onto the log)."""
    with psycopg.connect(settings.postgres) as conn:
        schema = current_now(conn, settings).core_schema  # a replay may have moved it
        rows = conn.execute(
            f"SELECT c.user_id, (SELECT follower_id FROM {schema}.follows f"
            "  WHERE f.followee_id = c.user_id LIMIT 1)"
            f" FROM {schema}.user_counts c"
            " ORDER BY abs(followers_count - %s), c.user_id LIMIT %s",
            (followers, AUTHORS),
        ).fetchall()
        with conn.cursor().copy(
            "COPY write_model.accounts (user_id, username, password_hash) FROM STDIN"
        ) as copy:
            for author, _ in rows:
                copy.write_row((author, f"u{author}"[:15], "bench: no password"))
        counts = [
            row[0]
            for row in conn.execute(
                f"SELECT followers_count FROM {schema}.user_counts WHERE user_id = ANY(%s)",
                ([author for author, _ in rows],),
            ).fetchall()
        ]
    return (
        [(author, follower) for author, follower in rows if follower is not None],
        {"min": min(counts), "median": statistics.median(counts), "max": max(counts)},
    )


async def _step(
    http, watcher: Redis, keys: RedisKeys, authors, headers, corpus, rng, rate: float, args
) -> dict:
    """`args.clients` clients, each posting on its share of `rate`'s schedule for the step's
    seconds; a client behind schedule posts again at once (no queue builds up)."""
    latencies: list[float] = []
    visible: list[float] = []
    pending: list[tuple[str, bytes, float]] = []
    started = time.perf_counter()
    deadline = started + args.step_seconds
    interval = args.clients / rate

    async def client(number: int) -> None:
        due = started + number / rate
        sent = 0
        while (now := time.perf_counter()) < deadline:
            await asyncio.sleep(max(0.0, due - now))
            author, follower = authors[(number + sent * args.clients) % len(authors)]
            begun = time.perf_counter()
            async with http.post(
                "/api/v1/tweets", json={"content": rng.choice(corpus)}, headers=headers[author]
            ) as response:
                response.raise_for_status()
                tweet_id = int((await response.json())["tweet_id"])
            latencies.append(time.perf_counter() - begun)
            pending.append((keys.home(follower), encode(Entry(tweet_id, tweet_id)), begun))
            due, sent = due + interval, sent + 1

    async def watch(stop: asyncio.Event) -> None:
        """Every 5 ms, one pipelined look for every post not yet visible."""
        while pending or not stop.is_set():
            looked = pending[:]
            if looked:
                async with watcher.pipeline(transaction=False) as pipe:
                    for key, member, _ in looked:
                        pipe.zscore(key, member)
                    found = await pipe.execute()
                now = time.perf_counter()
                seen = {
                    id(item) for item, score in zip(looked, found, strict=True) if score is not None
                }
                visible.extend(now - item[2] for item in looked if id(item) in seen)
                pending[:] = [item for item in pending if id(item) not in seen]
            await asyncio.sleep(0.005)

    stop = asyncio.Event()
    watching = asyncio.create_task(watch(stop))
    await asyncio.gather(*(client(number) for number in range(args.clients)))
    seconds = time.perf_counter() - started
    last_answer = time.perf_counter()
    stop.set()
    await asyncio.wait_for(watching, timeout=120)
    return {
        "offered_per_s": rate,
        "taken_per_s": round(len(latencies) / seconds, 1),
        "posts": len(latencies),
        "post_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "post_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "visible_p50_ms": round(percentile(visible, 0.5) * 1000, 1),
        "visible_p99_ms": round(percentile(visible, 0.99) * 1000, 1),
        "all_visible_after_s": round(time.perf_counter() - last_answer, 2),
    }


async def _producer_saturation(settings: Settings, corpus, rng, clients: int) -> float:
    """Posts/s the API's event producer alone acknowledges, `clients` at a time."""
    async with produce_floor(settings, SimpleNamespace(texts=corpus), rng) as produce:
        result = await closed_loop(produce, clients, PRODUCER_SECONDS)
    return result["throughput_per_s"]
