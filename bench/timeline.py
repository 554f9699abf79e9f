"""The home-timeline benchmark: `make bench` (or `python -m bench.timeline`).

Starts its own local stack, loads the real follower graph (plus synthetic celebrities),
puts real tweet texts through the agents, then measures, each beside its baseline from the
same run: home timeline reads vs a naive pull query and vs the raw Redis operations;
fan-out deliveries/s vs raw pipelined Redis writes; post -> visible lag and post latency at
a steady load; bytes per cached timeline entry. Writes bench/results/timeline-<time>.json
and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import psycopg
import redis
from psycopg_pool import AsyncConnectionPool

from api.security import Tokens
from bench import dataset
from bench.loading import load_graph, load_history, open_timelines, produce_tweets
from bench.measure import (
    BENCH_API,
    at_steady_rate,
    bench_stack,
    closed_loop,
    merge_runs,
    percentile,
    summary,
)
from bench.report import write_report
from infra.redis_clients import async_redis
from infra.redis_clients import sync_redis as redis_client
from infra.settings import Settings
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from projections.redis_pages import PageAssembler
from projections.timeline_entries import Entry, encode
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.admin import ensure_topics
from streams.producer import EventProducer
from streams.topics import TopicRegistry

ROOT = Path(__file__).resolve().parents[1]
# Posts through the API and the producer-alone baseline take turns, so both see the same
# machine.
POSTING_ROUNDS = 3
RAW_ROUNDS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--tweets", type=int, default=60_000, help="real tweets put through fan-out"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=1_000_000,
        help="older tweets bulk-loaded into the tweet store (real texts reused)",
    )
    parser.add_argument("--celebrities", type=int, default=3)
    parser.add_argument("--celebrity-followers", type=int, default=300_000)
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 8],
        help="closed-loop clients, comma-separated: reads are measured at each; "
        "latency is stated at the highest, capacity is the best of each",
    )
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="per measured read figure, split over the rounds",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="read figures measured in turn, this many times each"
    )
    parser.add_argument(
        "--cluster-masters",
        type=int,
        default=3,
        help="home timeline reads again with Redis a Valkey Cluster of this many masters, "
        "in turn with the standalone server's (0: not)",
    )
    parser.add_argument("--post-rate", type=float, default=20.0, help="steady posts per second")
    parser.add_argument("--post-seconds", type=float, default=60.0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with bench_stack("timeline") as (stack, settings), cluster_stack(settings, args) as cluster:
        report = asyncio.run(run(stack, settings, args, cluster)) | {"machine": machine()}
    write_report(report, ROOT)


@contextmanager
def cluster_stack(settings: Settings, args) -> Iterator[LocalStack | None]:
    """A second stack whose Redis is a Valkey Cluster of `--cluster-masters` masters, sharing
    the first one's broker and PostgreSQL (None with --cluster-masters 0). Started here, in
    the main thread, with the first: its processes are started from the main thread."""
    if not args.cluster_masters:
        yield None
        return
    on_cluster = LocalStack(
        settings.model_copy(
            update={
                "redis_url": None,
                "redis_cluster_masters": args.cluster_masters,
                "data_dir": settings.data_dir / "cluster",
            }
        ),
        ephemeral=True,
    )
    on_cluster.start()
    try:
        yield on_cluster
    finally:
        on_cluster.stop()


def machine() -> dict:
    import os

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def run(stack: LocalStack, settings: Settings, args, cluster: LocalStack | None) -> dict:
    rng = random.Random(11)
    started = time.perf_counter()
    data = dataset.load(args.celebrities, args.celebrity_followers)
    load_graph(settings, data)
    real_users = data.users[: len(data.users) - len(data.celebrities) - data.synthetic_followers]
    weights = follower_weights(settings, real_users)
    history = [
        (author, rng.choice(data.texts))
        for author in rng.choices(list(weights), list(weights.values()), k=args.history)
    ]
    load_history(settings, history)
    open_timelines(settings, real_users)
    loaded_s = time.perf_counter() - started

    stack.start_agents()
    base_url = stack.start_api(**BENCH_API, CHIRP_API_WORKERS=str(args.api_workers))
    keys = RedisKeys(settings.redis_prefix)
    sync_redis = redis_client(settings)

    fanout = await measure_fanout(settings, data, weights, rng, sync_redis, keys, args)
    tokens = Tokens(settings.jwt_secret, 3600)
    following = following_of(settings, real_users)
    posting = await measure_posting(
        base_url, settings, data, following, tokens, rng, sync_redis, keys, args
    )
    readers = pick_readers(following, data.celebrities, args.readers, rng)
    reads = await measure_reads(base_url, settings, readers, tokens, keys, args)
    memory = measure_memory(sync_redis, keys, real_users)
    topologies = (
        await measure_on_cluster(cluster, base_url, readers, tokens, args) if cluster else None
    )
    return {
        "load": {
            "users": len(data.users),
            "real_users": len(real_users),
            "edges": len(data.edges),
            "celebrities": len(data.celebrities),
            "followers_per_celebrity": args.celebrity_followers + len(real_users) // 10,
            "celebrity_threshold": settings.celebrity_threshold,
            "history_tweets": args.history,
            "graph_load_seconds": round(loaded_s, 1),
        },
        "fanout": fanout,
        "posting": posting,
        "reads": reads,
        "memory": memory,
        "topologies": topologies,
    }


def following_of(settings: Settings, users: list[int]) -> dict[int, list[int]]:
    with psycopg.connect(settings.postgres) as conn:
        rows = conn.execute(
            f"SELECT follower_id, array_agg(followee_id) FROM {settings.read_schema}.follows"
            " WHERE follower_id = ANY(%s) GROUP BY follower_id",
            (users,),
        ).fetchall()
    return {follower: followees for follower, followees in rows}


def follower_weights(settings: Settings, real_users: list[int]) -> dict[int, int]:
    """Authors to pick tweets for, weighted by followers: popular accounts tweet more."""
    with psycopg.connect(settings.postgres) as conn:
        return dict(
            conn.execute(
                f"SELECT user_id, followers_count FROM {settings.read_schema}.user_counts"
                " WHERE followers_count > 0 AND user_id = ANY(%s)",
                (real_users,),
            ).fetchall()
        )


async def measure_fanout(settings, data, weights, rng, sync_redis, keys, args) -> dict:
    """Real texts by real authors (more followers, more tweets) through the agents."""
    real_users = list(weights)
    authors = rng.choices(list(weights), weights=list(weights.values()), k=args.tweets)
    posts = [(author, rng.choice(data.texts)) for author in authors]
    posts += [(star, rng.choice(data.texts)) for star in data.celebrities for _ in range(200)]
    rng.shuffle(posts)
    before = int(sync_redis.hget(keys.stats(), "fanout_deliveries") or 0)
    started = time.perf_counter()
    produce_tweets(settings, posts)
    delivered, last_change, last = before, time.perf_counter(), before
    while time.perf_counter() - last_change < 3.0:  # until deliveries stop growing
        await asyncio.sleep(0.2)
        delivered = int(sync_redis.hget(keys.stats(), "fanout_deliveries") or 0)
        if delivered != last:
            last, last_change = delivered, time.perf_counter()
    seconds = last_change - started
    deliveries = delivered - before
    # The baseline is short: measured in rounds, its median stands beside the fan-out.
    raws = [raw_redis_write_rate(settings, real_users, deliveries) for _ in range(RAW_ROUNDS)]
    raw = statistics.median(raws)
    return {
        "tweets": len(posts),
        "deliveries": deliveries,
        "seconds": round(seconds, 1),
        "deliveries_per_s": round(deliveries / seconds),
        "events_per_s": round(len(posts) / seconds),
        "baseline_raw_redis_writes_per_s": round(raw),
        "baseline_rounds": raws,
        "ratio_to_raw": round(deliveries / seconds / raw, 3),
    }


def raw_redis_write_rate(settings: Settings, users: list[int], count: int) -> int:
    """The floor's twin: pipelined ZADD + trim from one process into scratch keys."""
    client = redis_client(settings)
    count = min(count, 300_000)
    pipe = client.pipeline(transaction=False)
    started = time.perf_counter()
    for n in range(count):
        key = f"bench:raw:{users[n % len(users)]}"
        pipe.zadd(key, {encode(Entry(n + 1, n + 1)): 0})
        pipe.zremrangebyrank(key, 1, -802)
        if n % 1000 == 999:
            pipe.execute()
    pipe.execute()
    rate = round(count / (time.perf_counter() - started))
    for batch in range(0, len(users), 5000):
        client.delete(*[f"bench:raw:{u}" for u in users[batch : batch + 5000]])
    return rate


async def measure_posting(
    base_url, settings, data, following, tokens, rng, sync_redis, keys, args
) -> dict:
    """Posts at a steady rate through the API: latency, and lag until a follower's timeline
    has it. Baseline: the API's event producer alone at the same rate, in alternating rounds."""
    with psycopg.connect(settings.postgres) as conn:
        rows = conn.execute(
            # A follower whose home timeline is open (a real user): pushes skip the others.
            f"SELECT c.user_id, (SELECT follower_id FROM {settings.read_schema}.follows f"
            "  WHERE f.followee_id = c.user_id AND f.follower_id = ANY(%s) LIMIT 1)"
            f" FROM {settings.read_schema}.user_counts c WHERE followers_count BETWEEN 50 AND 2000"
            " AND user_id = ANY(%s) LIMIT 500",
            (list(following), list(following)),
        ).fetchall()
    authors = [(author, follower) for author, follower in rows if follower is not None]
    latencies, lags, floor = [], [], []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        async_redis(settings) as watcher,
        produce_floor(settings, data, rng) as produce,
    ):

        async def post_one(n: int) -> None:
            author, follower = authors[n % len(authors)]
            headers = {"Authorization": f"Bearer {tokens.issue(author, f'u{author}')}"}
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/tweets", json={"content": rng.choice(data.texts)}, headers=headers
            )
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            member = encode(
                Entry(int(response.json()["tweet_id"]), int(response.json()["tweet_id"]))
            )
            while await watcher.zscore(keys.home(follower), member) is None:
                if time.perf_counter() - started > 30:
                    raise RuntimeError("a post never reached its follower's timeline")
                await asyncio.sleep(0.002)
            lags.append(time.perf_counter() - started)

        async def produce_one(n: int) -> None:
            floor.append(await produce(n))

        per_round = round(args.post_rate * args.post_seconds / POSTING_ROUNDS)
        for round_number in range(POSTING_ROUNDS):
            numbers = range(round_number * per_round, (round_number + 1) * per_round)
            await at_steady_rate(post_one, numbers, args.post_rate)
            await at_steady_rate(produce_one, numbers, args.post_rate)
    return {
        "rate_per_s": args.post_rate,
        "posts": len(latencies),
        "rounds": POSTING_ROUNDS,
        "post_latency": summary(latencies, args.post_seconds),
        "produce_floor": summary(floor, args.post_seconds),
        "post_to_visible_p50_ms": round(percentile(lags, 0.5) * 1000, 1),
        "post_to_visible_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
    }


@asynccontextmanager
async def produce_floor(settings, data, rng):
    """A post's floor: the API's event producer alone. Yields `produce(n)`, which sends a
    TweetPosted of a real text and returns the seconds until its acknowledgement: no HTTP,
    token, PostgreSQL transaction or outbox. Its topics are its own, read by no agent."""
    registry = TopicRegistry("bench-floor-", settings.partitions)
    ensure_topics(settings.bootstrap_servers, registry)
    producer = await asyncio.to_thread(
        EventProducer, settings.bootstrap_servers, registry, settings.produce_timeout_ms
    )

    async def produce(n: int) -> float:
        text = rng.choice(data.texts)
        event = ev.TweetPosted(
            event_id=n + 1,
            occurred_at=datetime.now(UTC),
            actor_id=n % 500 + 1,
            tweet_id=n + 1,
            author_id=n % 500 + 1,
            content=text,
            hashtags=extract_hashtags(text),
        )
        started = time.perf_counter()
        await producer.wait(await producer.enqueue(event))
        return time.perf_counter() - started

    try:
        yield produce
    finally:
        await asyncio.to_thread(producer.close)


def pick_readers(following, celebrities, count, rng) -> list[int]:
    eligible = [user for user, followees in following.items() if len(followees) >= 10]
    readers = rng.sample(eligible, min(count, len(eligible)))
    return readers


async def measure_reads(base_url, settings, readers, tokens, keys, args) -> dict:
    """The endpoint, the naive pull query and the endpoint's own Redis work, each run in turn
    at each number of clients for `--rounds` rounds: drift on this shared machine hits all
    alike. Throughput is compared as capacity: each at the number of clients that gets the
    most from it (the naive query saturates both cores with few clients and slows with more)."""
    headers = {r: {"Authorization": f"Bearer {tokens.issue(r, f'u{r}')}"} for r in readers}
    # aiohttp: the lightest asyncio HTTP client at hand, so the load generator (which shares
    # the two cores with the stack) takes as little CPU from the API as it can.
    most = max(args.concurrency)
    connector = aiohttp.TCPConnector(limit=most)
    pool = AsyncConnectionPool(settings.postgres, min_size=most, max_size=most, open=False)
    await pool.open(wait=True)
    schema = settings.read_schema
    client = async_redis(settings)
    # The endpoint's Redis work without HTTP and the API: its page script, called from here
    # (all a warm read asks of Redis).
    pages = PageAssembler(client, keys, settings.active_days * 86400, settings.agent_group)
    async with aiohttp.ClientSession(base_url, connector=connector) as http:

        async def endpoint(n: int) -> None:
            reader = readers[n % len(readers)]
            async with http.get("/api/v1/timeline/home", headers=headers[reader]) as response:
                response.raise_for_status()
                await response.read()

        async def naive_pull(n: int) -> None:
            async with pool.connection() as conn:
                await (
                    await conn.execute(
                        "SELECT t.tweet_id, t.author_id, t.content, t.created_at"
                        f" FROM {schema}.tweets t"
                        f" WHERE t.author_id IN (SELECT followee_id FROM {schema}.follows"
                        "  WHERE follower_id = %s) ORDER BY t.tweet_id DESC LIMIT 20",
                        (readers[n % len(readers)],),
                    )
                ).fetchall()

        async def raw_redis(n: int) -> None:
            if not (await pages.home(readers[n % len(readers)], None, 20)).served:
                raise RuntimeError("a warm timeline was not served by the page script")

        # Active readers have read before: their timelines were built from the stores (up
        # to the cap, history included), not only opened for fan-out like everyone else's.
        await client.delete(*[keys.home(reader) for reader in readers])
        for n in range(len(readers)):
            await endpoint(n)
        runs = {"endpoint": endpoint, "naive": naive_pull, "floor": raw_redis}
        rounds = [
            {
                (name, clients): await closed_loop(run, clients, args.seconds / args.rounds)
                for clients in args.concurrency
                for name, run in runs.items()
            }
            for _ in range(args.rounds)
        ]
    await pool.close()
    await client.aclose()
    merged = {place: merge_runs([r[place] for r in rounds]) for place in rounds[0]}

    def capacity(figures: dict, name: str) -> float:
        """Throughput at the number of clients that gets the most out of it."""
        return max(figures[(name, clients)]["throughput_per_s"] for clients in args.concurrency)

    best = {name: capacity(merged, name) for name in runs}
    per_round = sorted(capacity(r, "endpoint") / capacity(r, "naive") for r in rounds)
    by_clients = {
        clients: {name: merged[(name, clients)] for name in runs} for clients in args.concurrency
    }
    stated = by_clients[most]
    return {
        "concurrency": most,
        "concurrencies": args.concurrency,
        "api_workers": args.api_workers,
        "readers": len(readers),
        "rounds": args.rounds,
        "endpoint": stated["endpoint"],
        "baseline_naive_pull_sql": stated["naive"],
        "baseline_raw_redis": stated["floor"],
        "by_concurrency": {str(c): figures for c, figures in by_clients.items()},
        "capacity_per_s": best,
        "throughput_vs_naive": round(best["endpoint"] / best["naive"], 2),
        "throughput_vs_naive_per_round": [round(x, 2) for x in per_round],
        "throughput_vs_raw_redis": round(best["endpoint"] / best["floor"], 3),
    }


async def measure_on_cluster(on_cluster: LocalStack, base_url, readers, tokens, args) -> dict:
    """The home timeline read with Redis a standalone server (the first stack's) and a Valkey
    Cluster (`cluster_stack`'s), measured in turn at the highest client count. The cluster
    stack's API reads the same stores, and builds the readers' timelines and caches from them
    on a first read (as the first stack's API did). On a cluster every page takes the
    step-by-step path (docs/read-models.md, "Redis Cluster")."""
    # Started from the main thread (this blocks the loop, which has nothing else to do).
    cluster_url = on_cluster.start_api(**BENCH_API, CHIRP_API_WORKERS=str(args.api_workers))
    headers = {r: {"Authorization": f"Bearer {tokens.issue(r, f'u{r}')}"} for r in readers}
    most = max(args.concurrency)
    sessions = {
        name: aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=most))
        for name, url in (("standalone", base_url), ("cluster", cluster_url))
    }
    try:

        def reading(http: aiohttp.ClientSession):
            async def endpoint(n: int) -> None:
                reader = readers[n % len(readers)]
                async with http.get("/api/v1/timeline/home", headers=headers[reader]) as response:
                    response.raise_for_status()
                    await response.read()

            return endpoint

        runs = {name: reading(http) for name, http in sessions.items()}
        for n in range(len(readers)):  # the cluster's first reads build the timelines
            await runs["cluster"](n)
        rounds = [
            {
                name: await closed_loop(run, most, args.seconds / args.rounds)
                for name, run in runs.items()
            }
            for _ in range(args.rounds)
        ]
    finally:
        for http in sessions.values():
            await http.close()
    merged = {name: merge_runs([r[name] for r in rounds]) for name in runs}
    return {
        "masters": args.cluster_masters,
        "concurrency": most,
        "rounds": args.rounds,
        **merged,
    }


def measure_memory(client: redis.Redis, keys: RedisKeys, users: list[int]) -> dict:
    """Bytes per cached timeline entry over the fullest timelines (sentinel counted as overhead)."""
    sizes = []
    pipe = client.pipeline(transaction=False)
    for user in users:
        pipe.zcard(keys.home(user))
    cards = pipe.execute()
    fullest = sorted(zip(cards, users, strict=True), reverse=True)[:200]
    total_bytes = total_entries = 0
    for card, user in fullest:
        if card > 1:
            total_bytes += client.memory_usage(keys.home(user), samples=0)
            total_entries += card - 1
            sizes.append(card - 1)
    encoding = client.object("encoding", keys.home(fullest[0][1]))
    return {
        "timelines_sampled": len(sizes),
        "entries_sampled": total_entries,
        "bytes_per_entry": round(total_bytes / total_entries, 1),
        "largest_timeline_entries": max(sizes),
        "encoding": encoding.decode(),
        "twitter_reference_bytes_per_entry": 20,
    }


if __name__ == "__main__":
    main()
