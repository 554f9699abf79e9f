"""The live-updates benchmark: `make bench-streaming` (or `python -m bench.streaming`).

On a local stack of its own (one API process, the agents), `--readers` users follow one
author and each holds an SSE stream (`GET /api/v1/streaming/home`) open from this process;
`--pollers` other followers poll their home timeline (`limit=1`) back to back, the way a
client without the stream learns of a post. The author posts `--posts` real tweet texts,
`--interval` seconds apart. Measured, per post, from the moment the bench sends the POST:

- **post -> received**: each stream's `tweet` event for it (readers x posts samples);
- **post -> visible** (baseline): the first poll whose page holds it (pollers x posts).

Writes bench/results/streaming-<time>.json and docs/benchmarks.md's streaming section.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

import httpx

from bench.dataset import real_texts
from bench.measure import BENCH_API, bench_stack, p50_p99
from bench.report import save
from bench.timeline import machine
from infra.settings import Settings
from operations.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"
STREAM_PATH = "/api/v1/streaming/home"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200, help="concurrent SSE clients")
    parser.add_argument("--pollers", type=int, default=2, help="home-timeline pollers")
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between posts")
    args = parser.parse_args()
    with bench_stack("streaming") as (stack, settings):
        report = asyncio.run(_run(stack, settings, args)) | {"machine": machine()}
    save(ROOT, "streaming", report, markdown(report))


async def _sign_up(client: httpx.AsyncClient, name: str) -> tuple[str, dict]:
    response = await client.post(
        "/api/v1/users", json={"username": name, "display_name": name, "password": PASSWORD}
    )
    response.raise_for_status()
    body = response.json()
    return body["user_id"], {"Authorization": f"Bearer {body['access_token']}"}


async def _run(stack: LocalStack, settings: Settings, args) -> dict:
    stack.start_agents()
    base_url = stack.start_api(**BENCH_API)
    limits = httpx.Limits(max_connections=args.readers + args.pollers + 10)
    timeout = httpx.Timeout(30, read=120)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
        author_id, author = await _sign_up(client, "author")
        followers = []
        for n in range(args.readers + args.pollers):
            followers.append(await _sign_up(client, f"reader{n}"))
        for _, auth in followers:
            (
                await client.post(f"/api/v1/users/{author_id}/follow", headers=auth)
            ).raise_for_status()
        readers, pollers = followers[: args.readers], followers[args.readers :]

        sent: dict[str, float] = {}  # tweet id -> when its POST was sent
        # (tweet id, when): an event may come before the POST's answer names the id.
        received: list[tuple[str, float]] = []
        visible: list[tuple[str, float]] = []
        ready = asyncio.Semaphore(0)
        done = asyncio.Event()

        async def listen(auth: dict) -> None:
            async with client.stream("GET", STREAM_PATH, headers=auth) as response:
                response.raise_for_status()
                kind = None
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                        if kind == "ready":
                            ready.release()
                    elif line.startswith("data: ") and kind == "tweet":
                        tweet_id = json.loads(line.removeprefix("data: "))["tweet_id"]
                        received.append((tweet_id, time.monotonic()))

        async def poll(auth: dict) -> None:
            seen: set[str] = set()
            while not done.is_set():
                response = await client.get(
                    "/api/v1/timeline/home", params={"limit": 1}, headers=auth
                )
                arrived = time.monotonic()
                for tweet in response.json()["tweets"]:
                    if tweet["tweet_id"] not in seen:
                        seen.add(tweet["tweet_id"])
                        visible.append((tweet["tweet_id"], arrived))

        listeners = [asyncio.create_task(listen(auth)) for _, auth in readers]
        for _ in readers:
            await asyncio.wait_for(ready.acquire(), 60)
        polling = [asyncio.create_task(poll(auth)) for _, auth in pollers]
        texts = random.Random(7).sample(real_texts(), args.posts)
        for text in texts:
            started = time.monotonic()
            response = await client.post(
                "/api/v1/tweets", json={"content": text[:280]}, headers=author
            )
            response.raise_for_status()
            sent[response.json()["tweet_id"]] = started
            await asyncio.sleep(max(0.0, started + args.interval - time.monotonic()))
        deadline = time.monotonic() + 10
        expected = args.posts * args.readers
        while (len(received) < expected or len(visible) < args.posts * args.pollers) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        done.set()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*polling, *listeners, return_exceptions=True)
    return {
        "readers": args.readers,
        "pollers": args.pollers,
        "posts": args.posts,
        "interval_s": args.interval,
        "received": p50_p99(_latencies(received, sent)) | {"missing": expected - len(received)},
        "visible": p50_p99(_latencies(visible, sent)),
    }


def _latencies(arrivals: list[tuple[str, float]], sent: dict[str, float]) -> list[float]:
    return [arrived - sent[tweet_id] for tweet_id, arrived in arrivals if tweet_id in sent]


def markdown(report: dict) -> str:
    received, visible = report["received"], report["visible"]
    return "\n".join(
        [
            "## Live updates (`make bench-streaming`)",
            "",
            f"Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by the "
            "whole stack and the bench. One API process; "
            f"{report['readers']} SSE clients (`GET /api/v1/streaming/home`, all in the "
            "bench's process) follow one author, who posts "
            f"{report['posts']} real tweets {report['interval_s']} s apart; "
            f"{report['pollers']} other followers poll their home timeline back to back. "
            "Both from the moment the POST is sent:",
            "",
            "| measure | p50 ms | p99 ms | samples |",
            "|---|---:|---:|---:|",
            f"| post -> received on every stream | {received['p50_ms']} | {received['p99_ms']} "
            f"| {received['count']} (missing {received['missing']}) |",
            f"| post -> visible in the home timeline (polling; baseline) | {visible['p50_ms']} "
            f"| {visible['p99_ms']} | {visible['count']} |",
            "",
            "A stream delivers a post once the core agent's batch has applied it (the event "
            "goes out in the batch's last pipeline), so the floor of both figures is the same "
            "write path and agent lag; polling adds its own round trips on top.",
        ]
    )


if __name__ == "__main__":
    main()
