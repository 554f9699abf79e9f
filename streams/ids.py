"""64-bit time-ordered ids in Twitter's Snowflake layout."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

# 2024-01-01T00:00:00Z: 41 bits of milliseconds from here last until 2093.
EPOCH_MS = 1_704_067_200_000
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class SnowflakeIds:
    """Strictly increasing ids for one worker: milliseconds | worker id | sequence.

    If the clock steps back, ids keep counting from the last millisecond used rather than
    repeat; if 4,096 ids are taken within one millisecond, the next ones borrow the next
    millisecond. Either way ids stay unique and increasing within the process.
    """

    def __init__(self, worker_id: int, clock=time.time) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be 0..{MAX_WORKER}")
        self.worker_id = worker_id
        self._clock = clock
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    def next_id(self, after: int = 0) -> int:
        """The next id; later than `after` too (an id of any worker's: another process's
        clock may be ahead of ours), by moving on to the millisecond after its own."""
        with self._lock:
            now = _epoch_ms(self._clock()) - EPOCH_MS
            floor_ms = after >> (WORKER_BITS + SEQUENCE_BITS)
            if after and floor_ms >= now:
                now = floor_ms + 1
            if now > self._last_ms:
                self._last_ms, self._sequence = now, 0
            elif self._sequence < MAX_SEQUENCE:
                self._sequence += 1
            else:
                self._last_ms, self._sequence = self._last_ms + 1, 0
            return (
                (self._last_ms << (WORKER_BITS + SEQUENCE_BITS))
                | (self.worker_id << SEQUENCE_BITS)
                | self._sequence
            )


def id_time(snowflake: int) -> datetime:
    """The moment an id was made, to the millisecond."""
    ms = (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def lowest_id_at(moment: datetime) -> int:
    """The smallest id any worker could make at `moment`: a bound for time-range queries."""
    ms = _epoch_ms(moment.timestamp()) - EPOCH_MS
    return max(ms, 0) << (WORKER_BITS + SEQUENCE_BITS)


def _epoch_ms(seconds: float) -> int:
    """The millisecond a clock reading falls in. Through whole microseconds (a datetime's
    precision): `int(seconds * 1000)` put a reading of exactly 12:00:00.123 in .122 whenever
    the float came out as .1229999."""
    return round(seconds * 1_000_000) // 1000
