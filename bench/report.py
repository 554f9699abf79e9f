"""The benchmark reports: JSON for machines, and each benchmark's own section of
docs/benchmarks.md (between its `<!-- bench:NAME -->` markers), which it alone rewrites."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = (
    "# Benchmarks\n\nOne section per benchmark, each rewritten only by its own run: "
    "`make bench` (home timeline), `make bench-search` (search), "
    "`make bench-trending` (the trending job).\n"
)


def write_report(report: dict, root: Path) -> None:
    """The home-timeline benchmark's report."""
    save(root, "timeline", report, markdown(report))


def write_search_report(report: dict, root: Path) -> None:
    save(root, "search", report, search_markdown(report))


def save(root: Path, name: str, report: dict, section: str) -> None:
    """bench/results/<name>-<time>.json, and the section `name` of docs/benchmarks.md."""
    results = root / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = report["machine"]["when"].replace(":", "").replace("-", "")
    (results / f"{name}-{stamp}.json").write_text(json.dumps(report, indent=2))
    replace_section(root / "docs" / "benchmarks.md", name, section)
    print(section)


def replace_section(path: Path, name: str, section: str) -> None:
    """Put `section` between the markers of `name`, or append it; the rest stays as it is."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{section.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)


def markdown(report: dict) -> str:
    load, fanout, posting, reads, memory = (
        report[k] for k in ("load", "fanout", "posting", "reads", "memory")
    )
    api, naive, floor = (
        reads["endpoint"],
        reads["baseline_naive_pull_sql"],
        reads["baseline_raw_redis"],
    )
    capacity = reads["capacity_per_s"]
    clients = " / ".join(str(c) for c in reads["concurrencies"])
    by_clients = "; ".join(
        f"{c} clients: endpoint {f['endpoint']['throughput_per_s']}/s, "
        f"naive {f['naive']['throughput_per_s']}/s, "
        f"raw Redis {f['floor']['throughput_per_s']}/s"
        for c, f in reads["by_concurrency"].items()
    )
    rows = [
        (
            f"home timeline p50 / p99 (API: {reads['api_workers']} workers, "
            f"{reads['concurrency']} concurrent clients)",
            f"{api['p50_ms']} / {api['p99_ms']} ms",
            f"naive pull SQL {naive['p50_ms']} / {naive['p99_ms']} ms; raw Redis (its page script, "
            f"no HTTP) {floor['p50_ms']} / {floor['p99_ms']} ms",
            "p99 <= 20 ms",
            api["p99_ms"] <= 20,
        ),
        (
            f"home timeline capacity (throughput at the best of {clients} clients)",
            f"{capacity['endpoint']}/s",
            f"naive pull SQL {capacity['naive']}/s (x{reads['throughput_vs_naive']}; per round "
            f"x{min(reads['throughput_vs_naive_per_round'])} to "
            f"x{max(reads['throughput_vs_naive_per_round'])}); "
            f"raw Redis {capacity['floor']}/s",
            ">= 10x naive",
            reads["throughput_vs_naive"] >= 10,
        ),
        (
            "fan-out deliveries/s",
            f"{fanout['deliveries_per_s']}/s ({fanout['deliveries']} deliveries, "
            f"{fanout['events_per_s']} tweets/s)",
            f"raw pipelined Redis writes {fanout['baseline_raw_redis_writes_per_s']}/s "
            f"(median of {len(fanout['baseline_rounds'])} rounds, {min(fanout['baseline_rounds'])}-"
            f"{max(fanout['baseline_rounds'])}; ratio {fanout['ratio_to_raw']})",
            ">= 1/3 of raw",
            fanout["ratio_to_raw"] >= 1 / 3,
        ),
        (
            "post -> visible in a follower's timeline p50 / p99",
            f"{posting['post_to_visible_p50_ms']} / {posting['post_to_visible_p99_ms']} ms",
            f"at {posting['rate_per_s']} posts/s",
            "p99 <= 1000 ms",
            posting["post_to_visible_p99_ms"] <= 1000,
        ),
        (
            "post latency p50 / p99",
            f"{posting['post_latency']['p50_ms']} / {posting['post_latency']['p99_ms']} ms",
            f"at {posting['rate_per_s']} posts/s ({posting['posts']} posts); the event producer "
            f"alone at the same rate: {posting['produce_floor']['p50_ms']} / "
            f"{posting['produce_floor']['p99_ms']} ms",
            "p99 < 500 ms",
            posting["post_latency"]["p99_ms"] < 500,
        ),
        (
            "bytes per cached timeline entry",
            f"{memory['bytes_per_entry']} B ({memory['encoding']})",
            f"Twitter: {memory['twitter_reference_bytes_per_entry']} B",
            "<= 20 B",
            memory["bytes_per_entry"] <= 20,
        ),
    ]
    lines = [
        "## Home timeline",
        "",
        "Produced by `make bench` (`python -m bench.timeline`) on "
        f"{report['machine']['when']} ({report['machine']['cpus']} cores, Python "
        f"{report['machine']['python']}). The load generator shares the machine with the whole "
        "stack. Every figure stands beside its baseline from the same run.",
        "",
        f"Data: the real SNAP ego-Twitter graph ({load['real_users']:,} users) plus "
        f"{load['celebrities']} synthetic celebrities with {load['followers_per_celebrity']:,} "
        f"followers each (real celebrities have millions: scaled to this machine); "
        f"{load['edges']:,} follow edges in all; celebrity threshold "
        f"{load['celebrity_threshold']:,}. "
        f"The tweet store holds {load['history_tweets']:,} older tweets (real texts reused, "
        "authors "
        "weighted by followers, bulk-loaded) and "
        f"{fanout['tweets']:,} more put through the agents. Each of the {reads['readers']} "
        "readers' "
        "home timelines was built from the stores by a first read before reads were measured. "
        "Reads: closed loops of the stated clients over the readers, in "
        f"{reads['rounds']} rounds of endpoint, naive query and raw Redis in turn at each client "
        "count, every sample kept; throughput is compared as capacity, each at the client count "
        "that gets the most from it (the naive query saturates both cores with few clients and "
        f"slows with more): {by_clients}.",
        "",
        "| figure | measured | baseline (same run) | target | met |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {value} | {baseline} | {target} | {'yes' if ok else 'NO'} |"
        for name, value, baseline, target, ok in rows
    ]
    if topologies := report.get("topologies"):
        alone, cluster = topologies["standalone"], topologies["cluster"]
        lines += [
            "",
            f"Home timeline on a Valkey Cluster of {topologies['masters']} masters (a second "
            "stack sharing the broker and PostgreSQL; on a cluster every page is read step by "
            "step, docs/read-models.md), measured in turn with the standalone server in "
            f"{topologies['rounds']} rounds at {topologies['concurrency']} clients: p50 / p99 "
            f"{cluster['p50_ms']} / {cluster['p99_ms']} ms ({cluster['throughput_per_s']}/s) "
            f"against {alone['p50_ms']} / {alone['p99_ms']} ms ({alone['throughput_per_s']}/s) "
            "standalone.",
        ]
    return "\n".join(lines) + "\n"


def search_markdown(report: dict) -> str:
    corpus, engines, e2e, when = (report[k] for k in ("corpus", "engines", "end_to_end", "machine"))
    rows = []
    for engine in engines.values():
        label, indexing, search = engine["label"], engine["indexing"], engine["search"]
        adapter, bare, bare_load = search["adapter"], search["bare"], indexing["baseline_bare_bulk"]
        subset = bare_load["documents"] < indexing["documents"]
        rows += [
            (
                f"indexing documents/s (batches of {indexing['batch']}, "
                "as the search agent writes)",
                label,
                f"{indexing['docs_per_s']}/s ({indexing['documents']:,} tweets in "
                f"{indexing['seconds']} s)",
                f"raw bulk load into a bare index: {bare_load['docs_per_s']}/s "
                f"({bare_load['documents']:,} texts); the adapter "
                + (
                    f"over those same first texts {indexing['docs_per_s_on_the_bare_texts']}/s, "
                    if subset
                    else ""
                )
                + f"x{indexing['ratio_to_bare']} of raw",
            ),
            (
                f"search p50 / p99 ({search['page']} hits, {search['concurrency']} in flight)",
                label,
                f"{adapter['p50_ms']} / {adapter['p99_ms']} ms",
                f"plain query on the bare index{' (fewer texts)' if subset else ''}: "
                f"{bare['p50_ms']} / {bare['p99_ms']} ms",
            ),
            (
                "queries/s",
                label,
                f"{adapter['throughput_per_s']}/s (over {search['queries']} "
                f"queries, {adapter['queries_with_hits']} of them found tweets)",
                f"bare: {bare['throughput_per_s']}/s ({bare['queries_with_hits']} found some)",
            ),
        ]
    lag, window = e2e["lag"], f"the search agent's batch window: {e2e['search_window_ms']:g} ms"
    api, index, home = lag["search_api"], lag["search_index"], lag["home_timeline"]

    def p(figure: dict) -> str:
        return f"{figure['p50_ms']} / {figure['p99_ms']} ms"

    stack = f"{e2e['engine']} via the search agent (local stack)"
    rows += [
        (
            "post -> found by GET /api/v1/search p50 / p99",
            stack,
            f"{p(api['post_to_seen'])} (in the index: {p(index['post_to_seen'])})",
            f"post -> in the author's own home timeline: {p(home['post_to_seen'])}; {window}",
        ),
        (
            "delete -> gone from GET /api/v1/search p50 / p99",
            stack,
            f"{p(api['delete_to_gone'])} (from the index: {p(index['delete_to_gone'])})",
            f"delete -> gone from the author's home timeline: {p(home['delete_to_gone'])}; "
            f"{window}",
        ),
        (
            "request latency p50 / p99",
            "API",
            f"post {p(e2e['post_latency'])}; delete {p(e2e['delete_latency'])}",
            f"at {e2e['rate_per_s']:g} posts, then deletes, per second",
        ),
    ]
    kinds = sorted({kind for engine in engines.values() for kind in engine["search"]["by_kind"]})
    mix = ", ".join(f"{count} {kind}" for kind, count in corpus["queries"].items())
    phases = ", ".join(
        f"{phase.replace('_', ' ')} {seconds} s"
        for phase, seconds in report["phase_seconds"].items()
    )
    lines = [
        "## Search",
        "",
        "Produced by `make bench-search` (`python -m bench.search`) on "
        f"{when['when']} ({when['cpus']} cores, Python {when['python']}) in "
        f"{report['bench_seconds'] / 60:.1f} min ({phases}). Every figure stands beside its "
        "baseline from the same run.",
        "",
        f"Corpus: the {corpus['tweets']:,} real tweet texts (TweetEval), posted in file order "
        f"{corpus['spacing_seconds']:g} s apart up to the run by {corpus['authors']} authors, a "
        "third of them liked (log-spread, up to ~1,000 likes). Queries, each run once per "
        f"adapter: {mix} (shuffled; an adapter run on fewer took the first ones); single words "
        "are drawn evenly from each document-frequency band, the others from random tweets "
        "(hashtags weighted by use). Baselines: the engine alone on a "
        "bare index of the same texts (tantivy: one text field, default tokenizer, "
        "add_document for each and one commit; Elasticsearch API: the client's bulk helper into "
        "an index with the default mapping), queried with a plain term / match (phrase) query "
        "for the same words (no ranking formula, filters, tie handling or cursor). Queries run "
        "in rounds, a slice on the adapter then the same slice on the bare index.",
        "",
        "| figure | adapter | measured | baseline (same run) |",
        "|---|---|---|---|",
        *(
            f"| {name} | {adapter} | {value} | {baseline} |"
            for name, adapter, value, baseline in rows
        ),
        "",
        "Search p50 / p99 by kind of query, adapter (bare index) in ms:",
        "",
        "| query | " + " | ".join(engine["label"] for engine in engines.values()) + " |",
        "|---|" + "---|" * len(engines),
        *(
            f"| {kind} | "
            + " | ".join(
                _by_kind(engine["search"]["by_kind"].get(kind)) for engine in engines.values()
            )
            + " |"
            for kind in kinds
        ),
        "",
        f"End to end: a local stack (agents, API with {e2e['engine']}); a new user posts "
        f"{e2e['posts']} real texts carrying one rare word at {e2e['rate_per_s']:g}/s, then "
        "deletes them at the same rate, while three watchers poll (pausing "
        f"{e2e['poll_pause_ms']:g} ms): GET /api/v1/search for the word, the index itself (a "
        "reader as the API opens it), and the author's home timeline. Times run from the "
        f"request's start; p99 of {e2e['posts']} samples is the slowest. The API drops a "
        "deleted tweet at hydration, so it leaves search results as soon as the core projection "
        "applies the deletion; the index figure is the search agent's own bound.",
        "",
        "osmem-server is an in-memory server that speaks the Elasticsearch REST API (built on "
        "bleve): its figures exercise the adapter's requests and say nothing about "
        "Elasticsearch's speed. Its ranked searches are slow because it evaluates each range "
        "filter (the ranking's recency steps and pinned moment) over every document.",
    ]
    return "\n".join(lines) + "\n"


def _by_kind(sides: dict | None) -> str:
    if sides is None:
        return ""
    adapter, bare = sides["adapter"], sides["bare"]
    return (
        f"{adapter['p50_ms']} / {adapter['p99_ms']} "
        f"({bare['p50_ms']} / {bare['p99_ms']}), n={adapter['count']}"
    )
