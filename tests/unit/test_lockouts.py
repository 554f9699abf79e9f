"""The lockout rule (infra/lockouts.py), on the in-process adapter with a clock the test moves:
the limit-th failure in a window locks a key out, each further lockout is twice as long up to
the longest, a window's failures expire with it, and clearing forgets everything.
tests/integration/test_lockouts_contract.py holds the Redis adapter to the same rule."""

from __future__ import annotations

import asyncio

from infra.lockouts import LockoutPolicy, MemoryLockouts

POLICY = LockoutPolicy(window_seconds=900, first_lockout_seconds=60, max_lockout_seconds=200)
LIMIT = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lockouts() -> tuple[MemoryLockouts, Clock]:
    clock = Clock()
    return MemoryLockouts(POLICY, clock=clock), clock


def _fail(lockouts: MemoryLockouts, times: int, key: str = "username:ada") -> list[float]:
    return [asyncio.run(lockouts.fail(key, LIMIT)) for _ in range(times)]


def test_the_limit_th_failure_locks_the_key_out_for_the_first_lockout():
    lockouts, clock = _lockouts()
    assert _fail(lockouts, LIMIT) == [0, 0, 60]
    assert asyncio.run(lockouts.wait(["username:ada"])) == 60
    assert asyncio.run(lockouts.wait(["username:bob"])) == 0
    clock.now += 59.5
    assert asyncio.run(lockouts.wait(["address:10.0.0.1", "username:ada"])) == 0.5
    clock.now += 0.5
    assert asyncio.run(lockouts.wait(["username:ada"])) == 0


def test_each_further_lockout_doubles_up_to_the_longest():
    lockouts, clock = _lockouts()
    lengths = []
    for _ in range(4):
        lengths.append(_fail(lockouts, LIMIT)[-1])
        clock.now += lengths[-1]
    assert lengths == [60, 120, 200, 200]


def test_failures_of_an_ended_window_do_not_count():
    lockouts, clock = _lockouts()
    assert _fail(lockouts, LIMIT - 1) == [0, 0]
    clock.now += POLICY.window_seconds
    assert _fail(lockouts, LIMIT - 1) == [0, 0]
    assert _fail(lockouts, 1) == [60]


def test_failures_while_locked_out_bring_the_next_lockout_closer():
    lockouts, _ = _lockouts()
    _fail(lockouts, LIMIT)
    assert _fail(lockouts, LIMIT) == [0, 0, 120]  # attempts in flight when it started
    assert asyncio.run(lockouts.wait(["username:ada"])) == 120


def test_clearing_forgets_failures_and_lockouts():
    lockouts, clock = _lockouts()
    _fail(lockouts, LIMIT)
    clock.now += 60
    _fail(lockouts, LIMIT - 1)
    asyncio.run(lockouts.clear("username:ada"))
    assert _fail(lockouts, LIMIT - 1) == [0, 0]
    assert _fail(lockouts, 1) == [60]  # the first lockout's length again


def test_a_key_is_forgotten_a_while_after_its_last_failure():
    lockouts, clock = _lockouts()
    _fail(lockouts, LIMIT)
    clock.now += POLICY.strikes_kept_seconds + POLICY.max_lockout_seconds
    assert _fail(lockouts, LIMIT) == [0, 0, 60]
