"""The lockouts port's contract (infra/lockouts.py), run against each adapter: in this process,
and in Redis (infra/redis_lockouts.py). Real time, with lockouts of a fraction of a second;
tests/unit/test_lockouts.py moves a clock through the rule's longer cases."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from infra.lockouts import LockoutPolicy, MemoryLockouts
from infra.redis_lockouts import RedisLockouts

POLICY = LockoutPolicy(window_seconds=60, first_lockout_seconds=0.4, max_lockout_seconds=0.8)
LIMIT = 3


@pytest.fixture(params=["memory", "redis"])
def run(request, stack):
    """Runs `scenario(lockouts)` on a fresh adapter of the kind the test is parametrised with."""

    def running(scenario):
        async def main():
            if request.param == "memory":
                return await scenario(MemoryLockouts(POLICY))
            lockouts = RedisLockouts.connect(
                stack.settings, f"chirp-test:lockouts:{uuid.uuid4().hex}:", POLICY
            )
            try:
                return await scenario(lockouts)
            finally:
                await lockouts.close()

        return asyncio.run(main())

    return running


async def _fail(lockouts, times: int, key: str = "username:ada") -> list[float]:
    return [await lockouts.fail(key, LIMIT) for _ in range(times)]


async def _unlocked(lockouts, keys: list[str], within: float) -> float | None:
    """How long it took until none of `keys` was locked out; None if longer than `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await lockouts.wait(keys) == 0:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    return None


def test_the_limit_th_failure_locks_a_key_out_until_its_lockout_ends(run):
    async def scenario(lockouts):
        assert await _fail(lockouts, LIMIT) == [0, 0, 0.4]
        waits = (
            await lockouts.wait(["username:ada"]),
            await lockouts.wait(["username:bob", "address:10.0.0.1"]),
        )
        return waits, await _unlocked(lockouts, ["username:ada"], within=2)

    (locked, other), unlocked_after = run(scenario)
    assert 0 < locked <= 0.4
    assert other == 0
    assert unlocked_after is not None


def test_each_further_lockout_doubles_up_to_the_longest_and_clearing_starts_again(run):
    async def scenario(lockouts):
        lengths = []
        for _ in range(3):
            lengths.append((await _fail(lockouts, LIMIT))[-1])
            await _unlocked(lockouts, ["username:ada"], within=2)
        await lockouts.clear("username:ada")
        return lengths, await _fail(lockouts, LIMIT)

    lengths, after_clearing = run(scenario)
    assert lengths == [0.4, 0.8, 0.8]
    assert after_clearing == [0, 0, 0.4]


def test_the_longest_lockout_of_several_keys_is_the_wait(run):
    async def scenario(lockouts):
        await _fail(lockouts, LIMIT, "address:10.0.0.1")
        await _fail(lockouts, LIMIT, "address:10.0.0.1")  # its second lockout: 0.8 s
        await _fail(lockouts, LIMIT, "username:ada")
        return (
            await lockouts.wait(["username:ada", "address:10.0.0.1"]),
            await lockouts.wait(["username:ada"]),
        )

    both, username = run(scenario)
    assert username < both <= 0.8


def test_concurrent_failures_are_each_counted(run):
    # On a cluster, also the case of a fresh client's first commands all at once: before
    # infra.redis_clients._Cluster, some went to a random node and their MOVED answers made
    # redis-py close the connections under the others (docs/read-models.md, "Redis Cluster").
    async def scenario(lockouts):
        return await asyncio.gather(
            *(lockouts.fail("username:ada", LIMIT) for _ in range(2 * LIMIT))
        )

    assert sorted(run(scenario)) == [0, 0, 0, 0, 0.4, 0.8]
