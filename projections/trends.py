"""The trends read model: the Flink job's rows, and which window is "now".

The job writes, per sliding window, the top N hashtags with their counts and velocity
(streams/trending.py). The store keeps the latest windows, one row per (window, hashtag), so
a redelivered or recomputed row replaces itself. Readers take the newest window that has
fully arrived and is still current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.regions import GLOBAL


class TrendRow(BaseModel):
    """One row of `trending-topics`: a hashtag's place in one window."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    window_start: datetime
    window_end: datetime
    # `global` (every tweet), or the region of the tweets counted (schemas/regions.py); rows
    # of the job before 2026-12-03 have none: they are global.
    region: str = Field(default=GLOBAL, min_length=1)
    rank: int = Field(ge=1)
    hashtag: str = Field(min_length=1)
    count: int = Field(ge=1)
    previous_count: int = Field(ge=0)
    # Rows of the job before 2026-12-03 have none (and their velocity was the count's growth).
    latest_count: int = Field(default=0, ge=0)
    velocity: float


class BadTrendRow(ValueError):
    """Bytes on `trending-topics` that are not a trend row."""


def decode_trend_row(raw: bytes) -> TrendRow:
    try:
        return TrendRow.model_validate_json(raw)
    except ValidationError as error:
        raise BadTrendRow(f"not a trend row: {error}") from error


@dataclass(frozen=True)
class TrendWindow:
    start: datetime
    end: datetime
    rows: tuple[TrendRow, ...]  # by rank

    @property
    def complete(self) -> bool:
        """Every rank from 1 to the lowest one present: the job writes a window's rows in one
        burst, so a gap means the rest is still on its way."""
        ranks = {row.rank for row in self.rows}
        return bool(ranks) and ranks == set(range(1, max(ranks) + 1))


def in_region(window: TrendWindow, region: str) -> TrendWindow:
    """The window's rows of one region (none: nothing of the region trends in it)."""
    return TrendWindow(
        window.start, window.end, tuple(row for row in window.rows if row.region == region)
    )


def window_of(rows: list[TrendRow]) -> TrendWindow:
    """The window these rows (all of one window) describe."""
    ordered = tuple(sorted(rows, key=lambda row: (row.rank, row.hashtag)))
    return TrendWindow(ordered[0].window_start, ordered[0].window_end, ordered)


def current_window(
    newest_first: list[TrendWindow], now: datetime, stale_after: timedelta, region: str = GLOBAL
) -> TrendWindow | None:
    """The newest complete window, of `region`'s rows, unless it ended so long ago that a newer
    one would have been written had any hashtag been posted since: then nothing is trending.
    Complete: its global rows, and the region's if it has any, run through every rank (a
    region without rows in a window has nothing trending in it)."""
    for window in newest_first:
        regional = in_region(window, region)
        if in_region(window, GLOBAL).complete and (not regional.rows or regional.complete):
            return regional if now - window.end <= stale_after else None
    return None


# How a window's rows may be ordered for readers: as ranked (by count), or by velocity.
SORTS = ("count", "velocity")


def sorted_rows(window: TrendWindow, sort: str) -> list[TrendRow]:
    """The window's rows by count (their rank), or fastest-rising first (ties by count, then
    hashtag): among the window's top N by count, so a tag needs some volume to rise."""
    if sort == "velocity":
        return sorted(window.rows, key=lambda row: (-row.velocity, -row.count, row.hashtag))
    return list(window.rows)


class TrendsStore(Protocol):
    async def upsert(self, rows: list[TrendRow]) -> None:
        """Store rows, replacing any earlier row of the same (window, hashtag)."""

    async def newest(self, count: int) -> list[TrendWindow]:
        """The `count` newest windows, newest first."""


# The newest window and the one before it: enough to step over a window still arriving.
WINDOWS_READ = 2


async def current_trends(
    store: TrendsStore, now: datetime, stale_after: timedelta, region: str = GLOBAL
) -> TrendWindow | None:
    """The window readers see now, of `region` (see current_window)."""
    return current_window(await store.newest(WINDOWS_READ), now, stale_after, region)
