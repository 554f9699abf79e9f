"""The benchmark report: JSON for machines, a Markdown table for docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, root: Path) -> None:
    results = root / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = report["machine"]["when"].replace(":", "").replace("-", "")
    (results / f"timeline-{stamp}.json").write_text(json.dumps(report, indent=2))
    (root / "docs" / "benchmarks.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    load, fanout, posting, reads, memory = (report[k] for k in
                                            ("load", "fanout", "posting", "reads", "memory"))
    api, naive, floor = reads["endpoint"], reads["baseline_naive_pull_sql"], reads["baseline_raw_redis"]
    rows = [
        ("home timeline p50 / p99 (API: %d workers, %d concurrent clients)"
         % (reads["api_workers"], reads["concurrency"]),
         f"{api['p50_ms']} / {api['p99_ms']} ms",
         f"naive pull SQL {naive['p50_ms']} / {naive['p99_ms']} ms; raw Redis (its page script, "
         f"no HTTP) {floor['p50_ms']} / {floor['p99_ms']} ms",
         "p99 <= 20 ms", api["p99_ms"] <= 20),
        ("home timeline throughput", f"{api['throughput_per_s']}/s",
         f"naive pull SQL {naive['throughput_per_s']}/s (x{reads['throughput_vs_naive']}; per round "
         f"x{min(reads['throughput_vs_naive_per_round'])} to x{max(reads['throughput_vs_naive_per_round'])}); "
         f"raw Redis {floor['throughput_per_s']}/s", ">= 10x naive", reads["throughput_vs_naive"] >= 10),
        ("fan-out deliveries/s", f"{fanout['deliveries_per_s']}/s ({fanout['deliveries']} deliveries, "
         f"{fanout['events_per_s']} tweets/s)", f"raw pipelined Redis writes {fanout['baseline_raw_redis_writes_per_s']}/s "
         f"(ratio {fanout['ratio_to_raw']})", ">= 1/3 of raw", fanout["ratio_to_raw"] >= 1 / 3),
        ("post -> visible in a follower's timeline p50 / p99",
         f"{posting['post_to_visible_p50_ms']} / {posting['post_to_visible_p99_ms']} ms",
         f"at {posting['rate_per_s']} posts/s", "p99 <= 1000 ms", posting["post_to_visible_p99_ms"] <= 1000),
        ("post latency p50 / p99", f"{posting['post_latency']['p50_ms']} / {posting['post_latency']['p99_ms']} ms",
         f"at {posting['rate_per_s']} posts/s", "p99 < 500 ms", posting["post_latency"]["p99_ms"] < 500),
        ("bytes per cached timeline entry", f"{memory['bytes_per_entry']} B ({memory['encoding']})",
         f"Twitter: {memory['twitter_reference_bytes_per_entry']} B", "<= 20 B", memory["bytes_per_entry"] <= 20),
    ]
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python -m bench.timeline`) on "
        f"{report['machine']['when']} ({report['machine']['cpus']} cores, Python "
        f"{report['machine']['python']}). The load generator shares the machine with the whole "
        "stack. Every figure stands beside its baseline from the same run.",
        "",
        f"Data: the real SNAP ego-Twitter graph ({load['real_users']:,} users) plus "
        f"{load['celebrities']} synthetic celebrities with {load['followers_per_celebrity']:,} "
        f"followers each (real celebrities have millions: scaled to this machine); "
        f"{load['edges']:,} follow edges in all; celebrity threshold {load['celebrity_threshold']:,}. "
        f"The tweet store holds {load['history_tweets']:,} older tweets (real texts reused, authors "
        "weighted by followers, bulk-loaded) and "
        f"{fanout['tweets']:,} more put through the tweet agent. Each of the {reads['readers']} readers' "
        "home timelines was built from the stores by a first read before reads were measured. "
        "Reads: a closed loop of the stated clients over the readers, in "
        f"{reads['rounds']} rounds of endpoint, naive query and raw Redis in turn, every sample kept.",
        "",
        "| figure | measured | baseline (same run) | target | met |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {value} | {baseline} | {target} | {'yes' if ok else 'NO'} |"
              for name, value, baseline, target, ok in rows]
    return "\n".join(lines) + "\n"
