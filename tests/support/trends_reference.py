"""Trending windows computed the plain way, as the oracle for the Flink job's output."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from schemas.regions import GLOBAL
from streams.trending import velocity_paces

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def expected_rows(
    posts: list[tuple[datetime, tuple[str, ...]]] | list[tuple[datetime, tuple[str, ...], str]],
    window: timedelta,
    slide: timedelta,
    top_n: int,
) -> set[tuple]:
    """Every row the job must write: (window_start, window_end, rank, hashtag, count,
    previous_count, latest_count, velocity, region), for windows aligned to the epoch that
    hold a hashtag: the global trends of every post, and each region's of its posts (a post
    is (time, tags) or (time, tags, region))."""
    regional: dict[str, list[tuple[datetime, tuple[str, ...]]]] = {GLOBAL: []}
    for post in posts:
        regional[GLOBAL].append((post[0], post[1]))
        if len(post) > 2 and post[2]:
            regional.setdefault(post[2], []).append((post[0], post[1]))
    return {
        (*row, region)
        for region, its_posts in regional.items()
        for row in _rows(its_posts, window, slide, top_n)
    }


def _rows(
    posts: list[tuple[datetime, tuple[str, ...]]], window: timedelta, slide: timedelta, top_n: int
) -> set[tuple]:
    pace, earlier_pace = velocity_paces(window, slide)

    def count(start: datetime, end: datetime) -> Counter:
        return Counter(tag for at, tags in posts if start <= at < end for tag in tags)

    times = [at for at, tags in posts if tags]
    if not times:
        return set()
    first = EPOCH + ((min(times) - EPOCH) // slide) * slide + slide
    rows = set()
    end = first
    while end - window <= max(times):
        current, previous = count(end - window, end), count(end - window - slide, end - slide)
        latest = count(end - slide, end)
        ranked = sorted(current.items(), key=lambda item: (-item[1], item[0]))[:top_n]
        for rank, (tag, number) in enumerate(ranked, 1):
            now, earlier = latest.get(tag, 0), number - latest.get(tag, 0)
            rows.add(
                (
                    _iso(end - window),
                    _iso(end),
                    rank,
                    tag,
                    number,
                    previous.get(tag, 0),
                    now,
                    (now * pace - earlier * earlier_pace) / max(earlier * earlier_pace, 1.0),
                )
            )
        end += slide
    return rows


def as_tuple(row: dict) -> tuple:
    return (
        row["window_start"],
        row["window_end"],
        row["rank"],
        row["hashtag"],
        row["count"],
        row["previous_count"],
        row["latest_count"],
        row["velocity"],
        row["region"],
    )
