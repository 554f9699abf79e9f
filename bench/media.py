"""The media benchmark: `make bench-media` (or `python -m bench.media`).

On a local stack of its own, each figure beside its baseline from the same run:

1. **Upload -> processed -> visible.** `--posts` posts at `--rate` a second, alternating a
   post with one photo and a text-only post (the baseline). For a photo: reserve, PUT the
   JPEG (`--width` x `--height`, a photo's worth of detail), complete, post with the media id;
   then a follower polls their home timeline until the tweet is there with its renditions
   made. Measured per post: the time from the post's 201 to visible (processed), and from
   the upload's start to visible; for a text post, its 201 to visible. p50/p99.
2. **Timeline reads with media.** Two authors of `--tweets` tweets each, one with
   `--attachments` photos on every tweet, one without; a reader follows each. Measured:
   `GET /api/v1/timeline/home` (a page of 20) closed loop at `--concurrency`, alternating
   rounds of the two readers, p50/p99; and Redis commands per read (INFO stats): equal counts
   mean the media came in the same round trip as the rest of the page.

Writes bench/results/media-<time>.json and docs/benchmarks.md's media section.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import time
from pathlib import Path

import httpx
import redis
from PIL import Image

from bench.dataset import real_texts
from bench.measure import BENCH_API, at_steady_rate, bench_stack, closed_loop, merge_runs, p50_p99
from bench.report import save
from bench.timeline import machine
from infra.settings import Settings
from operations.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"
POLL_SECONDS = 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=120, help="half with a photo")
    parser.add_argument("--rate", type=float, default=2.0, help="posts a second")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--tweets", type=int, default=100, help="per author, for the reads")
    parser.add_argument("--attachments", type=int, default=2, help="photos per tweet")
    parser.add_argument("--seconds", type=float, default=10.0, help="per read round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with bench_stack("media") as (stack, settings):
        report = asyncio.run(_run(stack, settings, args)) | {"machine": machine()}
    save(ROOT, "media", report, markdown(report))


def photo(width: int, height: int, seed: int) -> bytes:
    """A JPEG with a photo's detail (noise over a gradient): encoders cannot squeeze it to
    nothing, so decoding and resizing cost what a real photo's do."""
    rng = random.Random(seed)
    noise = Image.effect_noise((width, height), 40 + rng.random() * 20)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Client:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def sign_up(self, name: str) -> tuple[str, dict]:
        answer = await self.http.post(
            "/api/v1/users", json={"username": name, "display_name": name, "password": PASSWORD}
        )
        answer.raise_for_status()
        body = answer.json()
        return body["user_id"], {"Authorization": f"Bearer {body['access_token']}"}

    async def upload(self, auth: dict, data: bytes) -> str:
        ticket = await self.http.post(
            "/api/v1/media",
            headers=auth,
            json={"content_type": "image/jpeg", "byte_size": len(data)},
        )
        ticket.raise_for_status()
        body = ticket.json()
        put = await self.http.put(body["upload_url"], content=data, headers=body["upload_headers"])
        put.raise_for_status()
        done = await self.http.post(f"/api/v1/media/{body['media_id']}/complete", headers=auth)
        done.raise_for_status()
        return body["media_id"]

    async def post(self, auth: dict, content: str, media_ids: list[str]) -> str:
        answer = await self.http.post(
            "/api/v1/tweets", headers=auth, json={"content": content, "media_ids": media_ids}
        )
        answer.raise_for_status()
        return answer.json()["tweet_id"]

    async def visible(self, auth: dict, tweet_id: str, with_media: bool) -> None:
        """Until the tweet is in the reader's home timeline (processed, if it has media)."""
        while True:
            page = await self.http.get("/api/v1/timeline/home", headers=auth)
            page.raise_for_status()
            for tweet in page.json()["tweets"]:
                if tweet["tweet_id"] == tweet_id and (
                    not with_media or (tweet["media"] and not tweet["media"][0]["processing"])
                ):
                    return
            await asyncio.sleep(POLL_SECONDS)


async def _run(stack: LocalStack, settings: Settings, args) -> dict:
    stack.start_agents()
    base_url = stack.start_api(**BENCH_API)
    texts = real_texts()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        client = Client(http)
        pipeline = await _pipeline(client, texts, args)
        reads = await _reads(client, settings, texts, args)
    return {"args": vars(args), "pipeline": pipeline, "reads": reads}


async def _pipeline(client: Client, texts: list[str], args) -> dict:
    author, author_auth = await client.sign_up("photographer")
    _, reader_auth = await client.sign_up("viewer")
    followed = await client.http.post(f"/api/v1/users/{author}/follow", headers=reader_auth)
    followed.raise_for_status()
    photos = [photo(args.width, args.height, seed) for seed in range(8)]
    samples: dict[str, list[float]] = {"photo_post": [], "photo_upload": [], "text_post": []}

    async def one(n: int) -> None:
        content = texts[n % len(texts)][:200]
        started = time.perf_counter()
        media = [await client.upload(author_auth, photos[n % len(photos)])] if n % 2 else []
        tweet_id = await client.post(author_auth, content, media)
        posted = time.perf_counter()
        await client.visible(reader_auth, tweet_id, bool(media))
        seen = time.perf_counter()
        if media:
            samples["photo_post"].append(seen - posted)
            samples["photo_upload"].append(seen - started)
        else:
            samples["text_post"].append(seen - posted)

    await at_steady_rate(one, range(args.posts), args.rate)
    return {name: p50_p99(values) for name, values in samples.items()} | {
        "photo_bytes": round(sum(map(len, photos)) / len(photos))
    }


async def _reads(client: Client, settings: Settings, texts: list[str], args) -> dict:
    small = [photo(640, 480, seed) for seed in range(4)]
    readers = {}
    for kind in ("media", "plain"):
        author, auth = await client.sign_up(f"{kind}author")
        _, reader_auth = await client.sign_up(f"{kind}reader")
        answer = await client.http.post(f"/api/v1/users/{author}/follow", headers=reader_auth)
        answer.raise_for_status()
        last = ""
        for n in range(args.tweets):
            media = []
            if kind == "media":
                media = [
                    await client.upload(auth, small[(n + k) % len(small)])
                    for k in range(args.attachments)
                ]
            last = await client.post(auth, texts[n % len(texts)][:200], media)
        await client.visible(reader_auth, last, kind == "media")
        readers[kind] = reader_auth
    # Every tweet of the media author processed, so every page read shows its renditions.
    await _all_processed(client, readers["media"], args.tweets)

    cache = redis.Redis.from_url(settings.redis)

    def commands() -> int:
        return int(cache.info("stats")["total_commands_processed"])

    runs: dict[str, list[dict]] = {"media": [], "plain": []}
    per_read: dict[str, list[float]] = {"media": [], "plain": []}
    for _ in range(args.rounds):
        for kind, auth in readers.items():

            async def read(_: int, auth=auth) -> None:
                page = await client.http.get("/api/v1/timeline/home", headers=auth)
                page.raise_for_status()

            await closed_loop(read, args.concurrency, 1.0)  # warm
            before = commands()
            run = await closed_loop(read, args.concurrency, args.seconds)
            per_read[kind].append((commands() - before) / len(run["samples_s"]))
            runs[kind].append(run)
    cache.close()
    return {
        kind: merge_runs(kind_runs) | {"redis_commands_per_read": round(min(per_read[kind]), 2)}
        for kind, kind_runs in runs.items()
    }


async def _all_processed(client: Client, auth: dict, tweets: int) -> None:
    cursor = None
    seen = 0
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await client.http.get("/api/v1/timeline/home", headers=auth, params=params)).json()
        if any(m["processing"] for t in page["tweets"] for m in t["media"]):
            await asyncio.sleep(0.2)
            cursor, seen = None, 0
            continue
        seen += len(page["tweets"])
        cursor = page["next_cursor"]
        if not cursor or seen >= tweets:
            return


def markdown(report: dict) -> str:
    args, pipe, reads = report["args"], report["pipeline"], report["reads"]
    media, plain = reads["media"], reads["plain"]
    return "\n".join(
        [
            "## Media (`make bench-media`)",
            "",
            f"Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by the "
            "whole stack and the bench.",
            "",
            f"**Upload -> processed -> visible** at {args['rate']} posts/s ({args['posts']} "
            f"posts, every other one with a {args['width']} x {args['height']} JPEG of "
            f"{pipe['photo_bytes'] // 1024} KiB), seen by a follower polling their home "
            "timeline every 20 ms:",
            "",
            "| measured | p50 ms | p99 ms | samples |",
            "|---|---:|---:|---:|",
            f"| text post: 201 -> visible (baseline) | {pipe['text_post']['p50_ms']} "
            f"| {pipe['text_post']['p99_ms']} | {pipe['text_post']['count']} |",
            f"| photo post: 201 -> visible with renditions | {pipe['photo_post']['p50_ms']} "
            f"| {pipe['photo_post']['p99_ms']} | {pipe['photo_post']['count']} |",
            f"| photo: upload start -> visible with renditions | "
            f"{pipe['photo_upload']['p50_ms']} | {pipe['photo_upload']['p99_ms']} "
            f"| {pipe['photo_upload']['count']} |",
            "",
            f"**Home timeline reads** (20 a page, {args['tweets']} tweets followed), "
            f"{args['rounds']} alternating rounds of {args['seconds']} s at "
            f"{args['concurrency']} concurrent readers:",
            "",
            "| timeline | p50 ms | p99 ms | reads/s | Redis commands per read |",
            "|---|---:|---:|---:|---:|",
            f"| no media (baseline) | {plain['p50_ms']} | {plain['p99_ms']} "
            f"| {plain['throughput_per_s']} | {plain['redis_commands_per_read']} |",
            f"| {args['attachments']} photos on every tweet | {media['p50_ms']} "
            f"| {media['p99_ms']} | {media['throughput_per_s']} "
            f"| {media['redis_commands_per_read']} |",
            "",
            f"p99 with media x{media['p99_ms'] / plain['p99_ms']:.2f} of the read without.",
        ]
    )


if __name__ == "__main__":
    main()
