"""The merge of cached timelines, with in-memory stand-ins for Redis and the hydrator."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from api.timelines import Sources, Timelines
from projections.redis_timelines import TimelinePage
from projections.timeline_entries import Entry


class MemoryTimelines:
    def __init__(self, sources: dict[str, list[int]]) -> None:
        self.sources = {key: sorted(ids, reverse=True) for key, ids in sources.items()}

    async def pages(self, keys, before, limit):
        return [
            TimelinePage(
                [Entry(i, i) for i in self.sources[key] if before is None or i < before][:limit],
                complete=True,
            )
            for key in keys
        ]


class MemoryHydrator:
    def __init__(self, live: set[int]) -> None:
        self.live = live

    async def tweets(self, ids):
        return {i: SimpleNamespace(author_id=1) for i in ids if i in self.live}

    async def render(self, entries, viewer, known, mutes=False):
        return [entry.tweet_id for entry in entries]


def read_all(sources: dict[str, list[int]], live: set[int], limit: int) -> list[int]:
    timelines = Timelines.__new__(Timelines)
    timelines.models = SimpleNamespace(timelines=MemoryTimelines(sources))
    timelines.hydrator = MemoryHydrator(live)

    async def no_store(cursor, n):
        return []

    async def admit_all(entries, tweets):
        return lambda entry, tweet: True

    async def pages():
        seen, cursor = [], None
        while True:
            ids, cursor, _ = await timelines._page(
                Sources(list(sources), admit_all, no_store), 1, cursor, limit
            )
            seen += ids
            if cursor is None:
                return seen

    return asyncio.run(pages())


def test_a_source_cut_off_early_is_not_skipped_when_many_entries_are_dropped():
    # The home source has 100 recent entries, 90 of them deleted; a celebrity's recents are
    # all older. Merging past the home page's cut would skip home entries 1..50.
    home = list(range(1, 51)) + list(range(200, 300))
    celebrity = list(range(100, 150))
    live = set(range(1, 51)) | set(range(290, 300)) | set(celebrity)
    shown = read_all({"home": home, "celebrity": celebrity}, live, limit=20)
    assert shown == sorted(live, reverse=True)


def test_pages_merge_newest_first_without_duplicates():
    shown = read_all(
        {"a": list(range(0, 200, 2)), "b": list(range(1, 200, 2)), "c": [4, 6, 8]},
        set(range(200)),
        limit=7,
    )
    assert shown == list(range(199, -1, -1))
