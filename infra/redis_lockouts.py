"""Lockouts in Redis, so that every API process counts the same failures (infra/lockouts.py).

One hash per key, changed by a script: concurrent failures of one key from several processes
are each counted, and the time is Redis's, the same for all of them. The script is the rule
of infra.lockouts.after_failure; the contract test holds both adapters to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infra.lockouts import LockoutPolicy, LockoutsUnavailable
from infra.redis_clients import async_redis, by_slot
from infra.redis_scripts import ScriptCall, run_scripts
from infra.settings import Settings

# A login waits at most this long for Redis before counting in its own process instead.
REDIS_TIMEOUT_SECONDS = 1.0

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)"

# KEYS: the keys. The milliseconds until the last of them is unlocked.
_WAIT = (
    _NOW_MS
    + """
local wait = 0
for _, key in ipairs(KEYS) do
  wait = math.max(wait, (tonumber(redis.call('HGET', key, 'locked_until')) or 0) - now)
end
return wait
"""
)

# KEYS[1]: the key. ARGV: limit, window, first lockout, longest lockout, strikes kept (ms).
# The lockout this failure starts, in ms (0: none).
_FAIL = (
    _NOW_MS
    + """
local limit, window, first, longest, kept =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local r = redis.call('HMGET', KEYS[1], 'failures', 'window_ends', 'strikes', 'locked_until')
local failures, window_ends = tonumber(r[1]) or 0, tonumber(r[2]) or 0
local strikes, locked_until = tonumber(r[3]) or 0, tonumber(r[4]) or 0
if window_ends <= now then
  failures, window_ends = 0, now + window
end
failures = failures + 1
local lockout = 0
if failures >= limit then
  strikes = strikes + 1
  lockout = math.floor(math.min(first * 2 ^ (strikes - 1), longest))
  locked_until = math.max(locked_until, now + lockout)
  failures, window_ends = 0, 0
end
redis.call('HSET', KEYS[1], 'failures', failures, 'window_ends', window_ends,
           'strikes', strikes, 'locked_until', locked_until)
redis.call('PEXPIRE', KEYS[1], math.max(kept, locked_until - now))
return lockout
"""
)


class RedisLockouts:
    """Lockouts under `prefix` in Redis; LockoutsUnavailable when Redis does not answer."""

    def __init__(self, redis: Redis, prefix: str, policy: LockoutPolicy) -> None:
        self._redis = redis
        self._prefix = prefix
        self._policy = policy
        self._wait = redis.register_script(_WAIT)
        self._fail = redis.register_script(_FAIL)

    @classmethod
    def connect(cls, settings: Settings, prefix: str, policy: LockoutPolicy) -> RedisLockouts:
        """Over a client of its own that gives up after REDIS_TIMEOUT_SECONDS, not retrying:
        the caller has somewhere else to count."""
        redis = async_redis(
            settings,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(redis, prefix, policy)

    async def wait(self, keys: Sequence[str]) -> float:
        if not keys:
            return 0.0
        # One call per slot a cluster keeps them in (one call on a standalone server).
        calls: list[ScriptCall] = [
            (self._wait, group, [])
            for group in by_slot(self._redis, [self._prefix + key for key in keys])
        ]
        with _reaching_redis():
            waited = max(await run_scripts(self._redis, calls))
        return max(0.0, int(waited) / 1000)

    async def fail(self, key: str, limit: int) -> float:
        policy = self._policy
        milliseconds = [
            round(seconds * 1000)
            for seconds in (
                policy.window_seconds,
                policy.first_lockout_seconds,
                policy.max_lockout_seconds,
                policy.strikes_kept_seconds,
            )
        ]
        with _reaching_redis():
            lockout = await self._fail(keys=[self._prefix + key], args=[limit, *milliseconds])
        return int(lockout) / 1000

    async def clear(self, key: str) -> None:
        with _reaching_redis():
            await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


@contextmanager
def _reaching_redis():
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise LockoutsUnavailable(str(error)) from error
