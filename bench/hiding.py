"""The read-time hiding benchmark: `python -m bench.hiding`.

What blocks and mutes cost the home timeline (docs/safety.md): on a local stack of its own,
`--readers` readers each follow `--follows` of `--authors` authors, who post real tweet
texts and retweet tweets of `--others` other users. Half the readers (the "hiding" ones)
also block `--blocks` and mute `--mutes` users: among the others, whose tweets the authors
retweet, and a tenth of the mutes among the authors they follow, so the page script drops
entries and reads further to fill a page. The other half block and mute no one.

Measured in turn, `--rounds` times, each closed loop at `--concurrency`: `GET
/api/v1/timeline/home` (a page of 20) for the hiding readers and for the others, and the
page script alone (projections/redis_pages.py, from this process) for each; p50/p99 over all
the rounds' samples. Every read must be served by the page script (one round trip).

Writes bench/results/hiding-<time>.json and docs/benchmarks.md's hiding section.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shlex
import sys
from pathlib import Path

import aiohttp

from api.security import Tokens
from bench.dataset import real_texts
from bench.measure import BENCH_API, bench_stack, closed_loop, merge_runs
from bench.replay import caught_up
from bench.report import save
from bench.timeline import machine
from bench.workload import produce
from infra.redis_clients import async_redis
from infra.settings import Settings
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from projections.redis_pages import PageAssembler
from projections.targets import ReadModel, group_of
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.ids import SnowflakeIds, id_time
from streams.topics import topic_registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=400, help="half of them hiding")
    parser.add_argument("--authors", type=int, default=400)
    parser.add_argument("--others", type=int, default=1000, help="users blocked and muted")
    parser.add_argument("--follows", type=int, default=50, help="authors each reader follows")
    parser.add_argument("--tweets", type=int, default=20, help="tweets per author")
    parser.add_argument("--retweets", type=int, default=10, help="retweets per author")
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--mutes", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=40.0, help="per figure, all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--api-workers", type=int, default=2)
    args = parser.parse_args()
    with bench_stack("hiding") as (stack, settings):
        report = asyncio.run(_run(stack, settings, args)) | {
            "machine": machine(),
            "command": shlex.join(["python", "-m", "bench.hiding", *sys.argv[1:]]),
        }
    save(ROOT, "hiding", report, markdown(report))


def _event(cls: type[ev.Event], ids: SnowflakeIds, actor: int, **fields) -> ev.Event:
    event_id = ids.next_id()
    return cls(event_id=event_id, occurred_at=id_time(event_id), actor_id=actor, **fields)


def _log(args, rng: random.Random) -> tuple[list[ev.Event], list[int], list[int]]:
    """The events, in an order the API could have written them, and the plain and the
    hiding readers."""
    ids, texts = SnowflakeIds(worker_id=977), real_texts()
    readers = [ids.next_id() for _ in range(args.readers)]
    authors = [ids.next_id() for _ in range(args.authors)]
    others = [ids.next_id() for _ in range(args.others)]
    events: list[ev.Event] = [
        _event(ev.UserRegistered, ids, user, user_id=user, username=f"h{n}",
               display_name=f"User {n}")
        for n, user in enumerate(readers + authors + others)
    ]  # fmt: skip
    following = {reader: rng.sample(authors, args.follows) for reader in readers}
    events += [
        _event(ev.UserFollowed, ids, reader, follower_id=reader, followee_id=author)
        for reader, followees in following.items()
        for author in followees
    ]

    def posted(author: int) -> ev.Event:
        text = rng.choice(texts)[:280]
        tweet = ids.next_id()
        return _event(ev.TweetPosted, ids, author, tweet_id=tweet, author_id=author,
                      content=text, hashtags=extract_hashtags(text))  # fmt: skip

    others_tweets = [posted(other) for other in others for _ in range(2)]
    events += others_tweets
    for author in authors:
        for _ in range(args.tweets):
            events.append(posted(author))
        for original in rng.sample(others_tweets, args.retweets):
            assert isinstance(original, ev.TweetPosted)
            events.append(
                _event(ev.TweetRetweeted, ids, author, tweet_id=original.tweet_id,
                       user_id=author, author_id=original.author_id)
            )  # fmt: skip
    plain, hiding = readers[: len(readers) // 2], readers[len(readers) // 2 :]
    for reader in hiding:
        unseen = rng.sample(others, args.blocks + args.mutes - args.mutes // 10)
        muted = unseen[args.blocks :] + rng.sample(following[reader], args.mutes // 10)
        events += [
            _event(ev.UserBlocked, ids, reader, blocker_id=reader, blocked_id=other)
            for other in unseen[: args.blocks]
        ]
        events += [
            _event(ev.UserMuted, ids, reader, muter_id=reader, muted_id=other) for other in muted
        ]
    return events, plain, hiding


async def _run(stack: LocalStack, settings: Settings, args) -> dict:
    rng = random.Random(22)
    events, plain, hiding = _log(args, rng)
    stack.start_agents()
    base_url = stack.start_api(**BENCH_API, CHIRP_API_WORKERS=str(args.api_workers))
    produce(settings, events)
    caught_up(stack, topic_registry(settings).event_topics(), group_of(settings, ReadModel.CORE))
    tokens = Tokens(settings.jwt_secret, 3600)
    headers = {r: {"Authorization": f"Bearer {tokens.issue(r, 'h')}"} for r in plain + hiding}
    client = async_redis(settings)
    pages = PageAssembler(
        client, RedisKeys(settings.redis_prefix), settings.active_days * 86400,
        settings.agent_group,
    )  # fmt: skip
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    served = {"plain": 0, "hiding": 0}
    try:
        async with aiohttp.ClientSession(base_url, connector=connector) as http:

            def endpoint(readers: list[int]):
                async def read(n: int) -> None:
                    reader = readers[n % len(readers)]
                    async with http.get(
                        "/api/v1/timeline/home", headers=headers[reader], params={"limit": 20}
                    ) as response:
                        response.raise_for_status()
                        await response.read()

                return read

            def script(readers: list[int], name: str):
                async def read(n: int) -> None:
                    page = await pages.home(readers[n % len(readers)], None, 20)
                    if not page.served:
                        raise RuntimeError(f"a warm {name} read not served: {page.reason}")
                    served[name] += 1

                return read

            runs = {
                "endpoint_plain": endpoint(plain),
                "endpoint_hiding": endpoint(hiding),
                "script_plain": script(plain, "plain"),
                "script_hiding": script(hiding, "hiding"),
            }
            # Every reader read once: the timelines, caches and sets loaded (a warm read).
            for n in range(len(plain) + len(hiding)):
                await runs["endpoint_plain" if n < len(plain) else "endpoint_hiding"](n)
            shown = await _page_sizes(pages, plain, hiding)
            rounds = [
                {
                    name: await closed_loop(run, args.concurrency, args.seconds / args.rounds)
                    for name, run in runs.items()
                }
                for _ in range(args.rounds)
            ]
    finally:
        await client.aclose()
    merged = {name: merge_runs([r[name] for r in rounds]) for name in runs}
    return {
        "readers": {"plain": len(plain), "hiding": len(hiding)},
        "authors": args.authors,
        "others": args.others,
        "follows": args.follows,
        "tweets_per_author": args.tweets,
        "retweets_per_author": args.retweets,
        "blocks": args.blocks,
        "mutes": args.mutes,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "api_workers": args.api_workers,
        "tweets_per_page": shown,
        **merged,
        "p99_ratio_endpoint": round(
            merged["endpoint_hiding"]["p99_ms"] / merged["endpoint_plain"]["p99_ms"], 3
        ),
        "p99_ratio_script": round(
            merged["script_hiding"]["p99_ms"] / merged["script_plain"]["p99_ms"], 3
        ),
    }


async def _page_sizes(pages: PageAssembler, plain: list[int], hiding: list[int]) -> dict:
    """The mean number of tweets on a first page, per kind of reader (a check that pages are
    full and that hiding dropped entries, not whole timelines)."""
    sizes = {}
    for name, readers in (("plain", plain), ("hiding", hiding)):
        counts = []
        for reader in readers:
            page = await pages.home(reader, None, 20)
            if not page.served:
                raise RuntimeError(f"a warm {name} read not served: {page.reason}")
            counts.append(page.tweets_json.count(b'"tweet_id"') if page.tweets_json else 0)
        sizes[name] = round(sum(counts) / len(counts), 1)
    return sizes


def markdown(report: dict) -> str:
    rows = [
        ("`GET /api/v1/timeline/home`, no blocks or mutes", report["endpoint_plain"]),
        (
            f"`GET /api/v1/timeline/home`, {report['blocks']} blocks + {report['mutes']} mutes",
            report["endpoint_hiding"],
        ),
        ("page script alone, no blocks or mutes", report["script_plain"]),
        (
            f"page script alone, {report['blocks']} blocks + {report['mutes']} mutes",
            report["script_hiding"],
        ),
    ]
    return "\n".join(
        [
            "## Blocks and mutes on the home timeline (`python -m bench.hiding`)",
            "",
            f"Run {report['machine']['when']} as `{report['command']}`, "
            f"{report['machine']['cpus']} cores shared by the whole stack and the bench. "
            f"{report['readers']['plain'] + report['readers']['hiding']} readers each follow "
            f"{report['follows']} of {report['authors']} authors ({report['tweets_per_author']} "
            f"tweets and {report['retweets_per_author']} retweets of other users' tweets each); "
            f"half of them block {report['blocks']} and mute {report['mutes']} users (the "
            "others whose tweets the authors retweet, and a tenth of the mutes among the "
            "authors they follow). Pages of 20, closed loop at "
            f"{report['concurrency']} clients, the four figures in turn for {report['rounds']} "
            "rounds; every read served by the page script in one round trip. Tweets per first "
            f"page: {report['tweets_per_page']['plain']} (plain), "
            f"{report['tweets_per_page']['hiding']} (hiding).",
            "",
            "| read | p50 ms | p99 ms | reads/s | samples |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {name} | {r['p50_ms']} | {r['p99_ms']} | {r['throughput_per_s']} "
                f"| {r['requests']:,} |"
                for name, r in rows
            ),
            "",
            f"p99 with blocks and mutes / p99 without: x{report['p99_ratio_endpoint']} through "
            f"the API, x{report['p99_ratio_script']} for the page script alone: a hiding "
            "reader's page examines the entries it drops (a muted followee's, retweets of "
            "blocked and muted users') on its way to 20, each a tweet read in the script.",
        ]
    )


if __name__ == "__main__":
    main()
