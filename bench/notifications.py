"""The notifications benchmark: `make bench-notifications` (or `python -m bench.notifications`).

On a local stack of its own, each figure beside its baseline from the same run:

1. **Like storm.** One author (signed up through the API) posts a tweet; `--fans` users
   (registered on the log) like it, all of them, while the agents are stopped, so the storm is
   on the log in full before they start: `--fans` TweetLiked of one tweet, one partition.
   Measured: the notifications agent's events/s over that partition, from its first recorded
   batch to the end (positions polled every 10 ms), the other agents working beside it as they
   do live; baseline: kafka-python reading the same records without decoding (before and
   after, median). The author's notifications then hold one group of `--fans` likes.
2. **Reads.** The author also has `--mentions` tweets mentioning them (real tweet texts) and
   `--follows` follows. Measured: `GET /api/v1/notifications` (a page of 20, hydrated) closed
   loop for `--seconds` at `--concurrency`, p50/p99; baseline: the store's page query
   (projections/postgres_notifications.py, the same SQL) from this process, the same way.

Writes bench/results/notifications-<time>.json and docs/benchmarks.md's notifications section.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from pathlib import Path

import httpx
from psycopg_pool import AsyncConnectionPool

from bench.dataset import real_texts
from bench.ingest import applied_rate
from bench.measure import BENCH_API, bench_stack, closed_loop, raw_consume_seconds
from bench.replay import caught_up
from bench.report import save
from bench.timeline import machine
from bench.workload import produce
from infra.settings import Settings
from operations.stack import LocalStack
from projections.notification_plan import KINDS
from projections.postgres_notifications import PostgresNotifications
from projections.targets import ReadModel, group_of
from schemas import events as ev
from streams.ids import SnowflakeIds, id_time
from streams.topics import topic_registry

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=10_000, help="likes of the one tweet")
    parser.add_argument("--mentions", type=int, default=300)
    parser.add_argument("--follows", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0, help="per read measurement")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with bench_stack("notifications") as (stack, settings):
        report = asyncio.run(_run(stack, settings, args)) | {"machine": machine()}
    save(ROOT, "notifications", report, markdown(report))


async def _run(stack: LocalStack, settings: Settings, args) -> dict:
    registry = topic_registry(settings)
    group = group_of(settings, ReadModel.NOTIFICATIONS)
    agents = stack.start_agents()
    base_url = stack.start_api(**BENCH_API)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        signed_up = await client.post(
            "/api/v1/users",
            json={"username": "star", "display_name": "Star", "password": PASSWORD},
        )
        signed_up.raise_for_status()
        author = signed_up.json()
        auth = {"Authorization": f"Bearer {author['access_token']}"}
        posted = await client.post("/api/v1/tweets", json={"content": "like me"}, headers=auth)
        posted.raise_for_status()
    author_id, tweet_id = int(author["user_id"]), int(posted.json()["tweet_id"])

    ids = SnowflakeIds(worker_id=1000 % 1024)
    texts = real_texts()
    fans = [ids.next_id() for _ in range(args.fans)]
    setup: list[ev.Event] = []
    for n, fan in enumerate(fans):
        setup.append(_event(ev.UserRegistered, ids, fan, user_id=fan, username=f"fan{n}",
                            display_name=f"Fan {n}"))  # fmt: skip
    rng = random.Random(3)
    for text in rng.sample(texts, args.mentions):
        fan, tweet = rng.choice(fans), ids.next_id()
        setup.append(_event(ev.TweetPosted, ids, fan, tweet_id=tweet, author_id=fan,
                            content=f"{text[:250]} @star", mentions=("star",),
                            mentioned_ids=(author_id,)))  # fmt: skip
    for fan in rng.sample(fans, args.follows):
        setup.append(_event(ev.UserFollowed, ids, fan, follower_id=fan, followee_id=author_id))
    produce(settings, setup)
    for read_model in (ReadModel.CORE, ReadModel.NOTIFICATIONS):
        caught_up(stack, registry.event_topics(), group_of(settings, read_model))

    # The storm, all on the log before the agents read it.
    agents.stop()
    storm = [
        _event(ev.TweetLiked, ids, fan, tweet_id=tweet_id, user_id=fan, author_id=author_id)
        for fan in fans
    ]
    produce(settings, storm)
    topics = [registry.engagements]
    raw = [len(storm) / raw_consume_seconds(settings.bootstrap_servers, topics, len(storm))]
    raw.append(len(storm) / raw_consume_seconds(settings.bootstrap_servers, topics, len(storm)))
    stack.start_agents()
    applied = applied_rate(settings, topics, group)
    for read_model in (ReadModel.CORE, ReadModel.NOTIFICATIONS):
        caught_up(stack, registry.event_topics(), group_of(settings, read_model))
    raw += [
        len(storm) / raw_consume_seconds(settings.bootstrap_servers, topics, len(storm))
        for _ in range(2)
    ]
    raw_per_s = statistics.median(raw)

    reads = await _reads(settings, base_url, auth, author_id, args)
    return {
        "fans": args.fans,
        "mentions": args.mentions,
        "follows": args.follows,
        "concurrency": args.concurrency,
        "storm": {
            "likes": len(storm),
            "raw_per_s": round(raw_per_s),
            "raw_rounds": [round(r) for r in raw],
            "agent_per_s": round(applied["per_s"]),
            "agent": applied,
            "ratio_to_raw": round(applied["per_s"] / raw_per_s, 3),
        },
        "reads": reads,
    }


async def _reads(settings: Settings, base_url: str, auth: dict, author_id: int, args) -> dict:
    pool = AsyncConnectionPool(settings.postgres, min_size=args.concurrency, open=False)
    await pool.open(wait=True)
    store = PostgresNotifications(pool, settings.notifications_schema)
    try:
        first = await store.page(author_id, KINDS, None, 20)
        assert any(group.actor_count == args.fans for group in first), first

        async def raw_page(_: int) -> None:
            await store.page(author_id, KINDS, None, 20)

        async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=auth) as client:

            async def api_page(_: int) -> None:
                response = await client.get("/api/v1/notifications", params={"limit": 20})
                response.raise_for_status()

            async def api_unread(_: int) -> None:
                response = await client.get("/api/v1/notifications/unread_count")
                response.raise_for_status()

            for warm in (raw_page, api_page, api_unread):
                await closed_loop(warm, args.concurrency, 2.0)
            runs = {
                "store_page": await closed_loop(raw_page, args.concurrency, args.seconds),
                "api_page": await closed_loop(api_page, args.concurrency, args.seconds),
                "api_unread_count": await closed_loop(api_unread, args.concurrency, args.seconds),
            }
    finally:
        await pool.close()
    return {
        name: {key: value for key, value in run.items() if key not in ("samples_s", "seconds")}
        for name, run in runs.items()
    }


def _event(cls: type[ev.Event], ids: SnowflakeIds, actor: int, **fields) -> ev.Event:
    event_id = ids.next_id()
    return cls(event_id=event_id, occurred_at=id_time(event_id), actor_id=actor, **fields)


def markdown(report: dict) -> str:
    storm, reads = report["storm"], report["reads"]
    store, api, unread = reads["store_page"], reads["api_page"], reads["api_unread_count"]
    return "\n".join(
        [
            "## Notifications (`make bench-notifications`)",
            "",
            f"Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by the "
            "whole stack and the bench.",
            "",
            f"**Like storm**: {storm['likes']:,} likes of one tweet (one partition), on the log "
            "before the agents start. The notifications agent applied "
            f"{storm['agent_per_s']:,} events/s against kafka-python's raw read of the same "
            f"records at {storm['raw_per_s']:,}/s (median of {storm['raw_rounds']}): "
            f"**x{storm['ratio_to_raw']}** of raw consumption, every other agent working beside "
            "it. The author then has one notification: "
            f"{report['fans']:,} likes in one group.",
            "",
            f"**Reads** of the author's notifications ({report['mentions']} mentions, "
            f"{report['follows']} follows, the like group), closed loop at "
            f"{report['concurrency']} concurrent readers:",
            "",
            "| read | p50 ms | p99 ms | reads/s |",
            "|---|---:|---:|---:|",
            f"| store page query (baseline: SQL only) | {store['p50_ms']} | {store['p99_ms']} "
            f"| {store['throughput_per_s']} |",
            f"| `GET /api/v1/notifications` (20, hydrated) | {api['p50_ms']} | {api['p99_ms']} "
            f"| {api['throughput_per_s']} |",
            f"| `GET /api/v1/notifications/unread_count` | {unread['p50_ms']} "
            f"| {unread['p99_ms']} | {unread['throughput_per_s']} |",
            "",
            f"API page p50 x{api['p50_ms'] / store['p50_ms']:.1f} of the store query's.",
        ]
    )


if __name__ == "__main__":
    main()
