"""The ingest benchmark: `make bench-ingest` (or `python -m bench.ingest`).

On a local stack of its own, with the real follower graph and real tweet texts
(../shared/data: SNAP ego-Twitter, TweetEval), each figure beside its baseline from the same run:

1. **Backlog.** Users and follows of the first `--edges` edges of the real graph, then
   `--activity` events in the proportions of bench/workload.ACTIVITY (posts, replies, likes and
   unlikes, retweets and unretweets, deletes, follows and unfollows), all on the log before the
   agents start; every user has a home timeline (as if all had read recently). Measured: the core
   agents' events/s from their first recorded batch to the end of the log (positions polled
   every 10 ms), then `chirp replay core` on the same log; baseline: kafka-python reading the
   same topics without decoding (before and after, median). Then the same backlog applied by
   1 and by 2 agents workers, each run on fresh read models and consumer groups
   (bench/ingest_workers.py): the core agents' events/s, the time until every read model had
   applied it, and the CPU each part of the stack used.
2. **Sustained posting** through the API (`--clients` concurrent clients, `--api-workers`
   workers) at stepped offered rates, `--step-seconds` each, by the 40 authors of the graph
   whose follower counts are nearest `--author-followers` (all of them pushed to): per step
   the rate the API took, post p50/p99, post -> visible in one follower's home timeline
   p50/p99, and how long after the step's last answer every post
   was visible. The sustainable post rate is the most the API took in a step whose post ->
   visible p99 stayed <= 1 s; the API's saturation is the most it took in any step (stepping
   stops at the first step it did not take in full, >= 95%);
   the baseline is the API's event producer alone, closed loop at the same concurrency.

Writes bench/results/ingest-<time>.json and docs/benchmarks.md's ingest section.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import redis

from bench.dataset import real_edges, real_texts
from bench.ingest_posting import measure_posting
from bench.ingest_workers import measure_workers, worker_lines
from bench.loading import open_timelines
from bench.measure import bench_stack, raw_consume_seconds
from bench.profile import sampling, summary
from bench.replay import caught_up
from bench.report import save
from bench.timeline import machine
from bench.workload import mixed_log, produce
from infra.settings import Settings
from operations.durability import wait_until_archived
from operations.replay import replay
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from streams.admin import log_end_offsets
from streams.topics import topic_registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=60_000, help="follows from the real graph")
    parser.add_argument("--activity", type=int, default=100_000)
    parser.add_argument("--replay-rounds", type=int, default=2)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(n) for n in text.split(",")],
        default=[50, 100, 150, 200, 250, 300, 400, 500],
        help="offered posts/s, one step each, comma-separated",
    )
    parser.add_argument("--step-seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--author-followers",
        type=int,
        default=61,
        help="posting authors: the 40 whose follower counts are nearest this",
    )
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the agents worker with py-spy while it applies the backlog, "
        "and the API's workers while they take posts",
    )
    args = parser.parse_args()
    with bench_stack("ingest") as (stack, settings):
        backlog, users = measure_backlog(stack, settings, args)
        posting = asyncio.run(measure_posting(stack, settings, args, real_texts(), users))
        report = {"backlog": backlog, "posting": posting, "machine": machine()}
    save(ROOT, "ingest", report, markdown(report))


def measure_backlog(stack: LocalStack, settings: Settings, args) -> dict:
    edges = real_edges(args.edges)
    events = mixed_log(edges, args.activity, real_texts())
    produce(settings, events)
    users = sorted({user for edge in edges for user in edge})
    open_timelines(settings, users)
    registry = topic_registry(settings)
    topics = registry.event_topics()
    raw = [
        len(events) / raw_consume_seconds(settings.bootstrap_servers, topics, len(events))
        for _ in range(3)
    ]
    worker = stack.start_agents()
    profile_path = ROOT / "bench" / "results" / "ingest-agents-profile.txt"
    with sampling(worker.pid, profile_path) if args.profile else nullcontext():
        agents = applied_rate(settings, topics, settings.agent_group)
    # The search index and the archive follow the core projection: the later steps start
    # once they have caught up too, so no step pays for the backlog.
    caught_up(stack, [registry.tweets, registry.engagements], f"{settings.agent_group}-search")
    wait_until_archived(settings, registry, timeout=600)
    if args.profile and profile_path.exists():
        agents["profile"] = summary(profile_path)
        profile_path.unlink()
    workers = measure_workers(stack, settings, topics, users)
    stack.start_agents()  # the live worker again, for the replays and the posting steps
    raw += [
        len(events) / raw_consume_seconds(settings.bootstrap_servers, topics, len(events))
        for _ in range(3)
    ]
    replays = []
    for _ in range(args.replay_rounds):
        result = asyncio.run(replay(settings, "core"))
        replays.append(result.events / result.seconds)
    raw_per_s = statistics.median(raw)
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.type_name()] = kinds.get(event.type_name(), 0) + 1
    return {
        "events": len(events),
        "users": len(users),
        "edges": len(edges),
        "kinds": kinds,
        "raw_per_s": round(raw_per_s),
        "raw_rounds": [round(r) for r in raw],
        "agents_per_s": round(agents["per_s"]),
        "agents": agents,
        "agents_ratio_to_raw": round(agents["per_s"] / raw_per_s, 3),
        "replay_per_s": round(statistics.median(replays)),
        "replay_rounds": [round(r) for r in replays],
        "replay_ratio_to_raw": round(statistics.median(replays) / raw_per_s, 3),
        "workers": workers,
    }, users


def applied_rate(settings: Settings, topics: list, group: str, timeout: float = 3600) -> dict:
    """The rate at which `group` applies the log: events applied between its first recorded
    batch and the end of the log, over that time (positions polled every 10 ms)."""
    ends = {
        place: end
        for place, end in log_end_offsets(settings.bootstrap_servers, topics).items()
        if end
    }
    keys = RedisKeys(settings.redis_prefix)
    client = redis.Redis.from_url(settings.redis)
    names = [keys.position(group, *place) for place in ends]

    def applied() -> int:
        return sum(int(value) + 1 for value in client.mget(names) if value is not None)

    total = sum(ends.values())
    deadline = time.monotonic() + timeout
    first = applied()
    while first == 0:
        time.sleep(0.01)
        first = applied()
    started = time.perf_counter()
    done = first
    while done < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not apply the log in {timeout}s")
        time.sleep(0.01)
        done = applied()
    seconds = time.perf_counter() - started
    return {
        "per_s": (total - first) / seconds,
        "seconds": round(seconds, 2),
        "first_batch_events": first,
    }


def markdown(report: dict) -> str:
    backlog, posting = report["backlog"], report["posting"]
    kinds = ", ".join(f"{name} {count:,}" for name, count in sorted(backlog["kinds"].items()))
    lines = [
        "## Ingest (`make bench-ingest`)",
        "",
        f"Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by the whole "
        "stack and the bench.",
        "",
        f"**Backlog**: {backlog['events']:,} events on the log before the agents start: "
        f"{backlog['users']:,} users and the first {backlog['edges']:,} follows of the real "
        f"graph, then mixed activity ({kinds}). Every user has a home timeline.",
        "",
        "| what | events/s | baseline: raw kafka-python consumption, same topics | ratio |",
        "|---|---|---|---|",
        f"| core agents (live), from their first batch to the end of the log | "
        f"{backlog['agents_per_s']:,} | {backlog['raw_per_s']:,} (rounds "
        f"{', '.join(f'{r:,}' for r in backlog['raw_rounds'])}) | "
        f"x{backlog['agents_ratio_to_raw']} |",
        f"| `chirp replay core` (rounds {', '.join(f'{r:,}' for r in backlog['replay_rounds'])}) | "
        f"{backlog['replay_per_s']:,} | {backlog['raw_per_s']:,} | "
        f"x{backlog['replay_ratio_to_raw']} |",
        "",
        *worker_lines(backlog.get("workers", [])),
        *profile_lines(backlog["agents"].get("profile")),
        f"**Sustained posting** through the API ({posting['api_workers']} workers, "
        f"{posting['clients']} clients, {posting['step_seconds']:.0f} s a step, "
        f"{posting['authors']} authors with {posting['author_followers']['min']}-"
        f"{posting['author_followers']['max']} followers (median "
        f"{posting['author_followers']['median']}); post -> visible: until one follower's "
        "home timeline holds the tweet):",
        "",
        "| offered/s | taken/s | post p50 / p99 ms | post -> visible p50 / p99 ms "
        "| all visible after the step | cores busy (of 2) |",
        "|---|---|---|---|---|---|",
    ]
    for step in posting["steps"]:
        busy = ", ".join(
            f"{name} {cores}" for name, cores in step["cores_busy"].items() if cores >= 0.01
        )
        lines.append(
            f"| {step['offered_per_s']:.0f} | {step['taken_per_s']:.1f} | "
            f"{step['post_p50_ms']} / {step['post_p99_ms']} | "
            f"{step['visible_p50_ms']} / {step['visible_p99_ms']} | "
            f"{step['all_visible_after_s']} s | {busy} |"
        )
    lines += [
        "",
        f"- Sustainable post rate (the most taken with post -> visible p99 <= 1 s): "
        f"**{posting['sustainable_per_s']:.1f}/s**; the API's saturation: "
        f"**{posting['api_saturation_per_s']:.0f}/s**.",
        f"- The event producer alone, closed loop at {posting['clients']} clients: "
        f"**{posting['producer_saturation_per_s']:.0f}/s** (the API takes "
        f"x{posting['api_to_producer']} of it).",
        "",
    ]
    if posting.get("api_profile"):
        lines += [
            "Where the API's time went over the posting steps (py-spy on its workers, "
            "`--profile`):",
            "",
            "| share of samples | what |",
            "|---|---|",
            *(f"| {share:.0%} | {name} |" for name, share in posting["api_profile"].items()),
            "",
        ]
    return "\n".join(lines)


def profile_lines(profile: dict | None) -> list[str]:
    if not profile:
        return []
    return [
        "Where the agents worker's time went while it applied the backlog (py-spy, 100 "
        "samples/s, `--profile`; the worker also runs the search and archive consumers):",
        "",
        "| share of samples | what |",
        "|---|---|",
        *(f"| {share:.0%} | {name} |" for name, share in profile.items()),
        "",
    ]


if __name__ == "__main__":
    main()
