"""Lockouts after repeated failures: a port, its rule as a pure function, and an in-process
adapter (infra/redis_lockouts.py has the one every process shares).

A key (a username, a client address) that fails `limit` times within a window is locked out;
each further lockout of the same key lasts twice as long as the one before, up to a maximum,
until the key has had no failure for a day or is cleared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from cachetools import TTLCache

# A key's lockouts count towards the length of its next one for this long after its last
# failure: long enough that a guesser waiting out each lockout keeps doubling it.
STRIKES_KEPT_SECONDS = 24 * 3600
# Keys the in-process adapter holds at most; past that it forgets the least recently used.
MEMORY_KEYS = 100_000


class LockoutsUnavailable(Exception):
    """The store that holds the lockouts cannot be reached."""


@dataclass(frozen=True)
class LockoutPolicy:
    window_seconds: float
    first_lockout_seconds: float
    max_lockout_seconds: float
    strikes_kept_seconds: float = STRIKES_KEPT_SECONDS

    def lockout(self, strikes: int) -> float:
        """The length of a key's `strikes`-th lockout: the first one, doubled each time."""
        doublings = min(strikes - 1, 64)  # past the longest long before; no float overflow
        return min(self.first_lockout_seconds * 2**doublings, self.max_lockout_seconds)


class Lockouts(Protocol):
    async def wait(self, keys: Sequence[str]) -> float:
        """Seconds until none of `keys` is locked out; 0 if none is."""

    async def fail(self, key: str, limit: int) -> float:
        """Count a failure of `key`; the seconds of the lockout it starts, 0 if it starts none."""

    async def clear(self, key: str) -> None:
        """Forget `key`'s failures and lockouts."""


@dataclass(frozen=True)
class Record:
    """What is known of a key: its failures in the current window, its lockouts so far."""

    failures: int = 0
    window_ends: float = 0.0
    strikes: int = 0
    locked_until: float = 0.0


def after_failure(
    record: Record, limit: int, policy: LockoutPolicy, now: float
) -> tuple[Record, float]:
    """The key's record after one more failure at `now`, and the lockout it starts (0: none).

    A window starts at the first failure after the last one ended; the `limit`-th failure in
    it starts a lockout and the count starts again. A failure while locked out still counts:
    attempts that were in flight when the lockout started bring the next one closer."""
    if record.window_ends <= now:
        record = replace(record, failures=0, window_ends=now + policy.window_seconds)
    record = replace(record, failures=record.failures + 1)
    if record.failures < limit:
        return record, 0.0
    strikes = record.strikes + 1
    lockout = policy.lockout(strikes)
    return Record(
        failures=0,
        window_ends=0.0,
        strikes=strikes,
        locked_until=max(record.locked_until, now + lockout),
    ), lockout


class MemoryLockouts:
    """Lockouts counted in this process alone: for tests, and while the shared store is down."""

    def __init__(
        self,
        policy: LockoutPolicy,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MEMORY_KEYS,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._records: TTLCache[str, Record] = TTLCache(
            maxsize=max_keys,
            ttl=policy.strikes_kept_seconds + policy.max_lockout_seconds,
            timer=clock,
        )

    async def wait(self, keys: Sequence[str]) -> float:
        now = self._clock()
        return max(
            [
                record.locked_until - now
                for key in keys
                if (record := self._records.get(key)) is not None
            ]
            + [0.0]
        )

    async def fail(self, key: str, limit: int) -> float:
        record, lockout = after_failure(
            self._records.get(key, Record()), limit, self._policy, self._clock()
        )
        self._records[key] = record  # again: its time to live starts anew
        return lockout

    async def clear(self, key: str) -> None:
        self._records.pop(key, None)
