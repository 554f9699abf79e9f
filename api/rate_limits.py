"""Per-user write rate limits: a token bucket per user and kind of write, in Redis
(throttled-py), so that every API process draws from the same bucket.

Seed 003's defaults: 10 tweets a minute, 100 follows an hour, 1,000 likes an hour, each with
a burst of the same size; `CHIRP_RATE_LIMIT_*` change them (0: no limit). Only writes that
would produce a new event draw a token: a retry replaying its stored answer does not.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from throttled.asyncio import RateLimiterType, Throttled, rate_limiter, store

from api.problems import ProblemError
from infra.settings import Settings

log = logging.getLogger("chirp.api.limits")


@dataclass(frozen=True)
class _Bucket:
    throttled: Throttled
    limit: int
    period: str


class WriteLimits:
    """The write limits of `settings`; `take(kind, user_id)` raises 429 once a bucket is empty."""

    def __init__(self, settings: Settings) -> None:
        backend = store.RedisStore(server=settings.redis, options={
            "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2})
        prefix = f"{settings.redis_prefix.strip(':')}:rate-limits"
        quotas = {"tweets": (settings.rate_limit_tweets_per_minute, "minute", rate_limiter.per_min),
                  "follows": (settings.rate_limit_follows_per_hour, "hour", rate_limiter.per_hour),
                  "likes": (settings.rate_limit_likes_per_hour, "hour", rate_limiter.per_hour)}
        self._buckets = {
            kind: _Bucket(Throttled(using=RateLimiterType.TOKEN_BUCKET.value,
                                    quota=per(limit, burst=limit), store=backend,
                                    key_prefix=prefix), limit, period)
            for kind, (limit, period, per) in quotas.items() if limit > 0}

    async def take(self, kind: str, user_id: int) -> None:
        bucket = self._buckets.get(kind)
        if bucket is None:
            return
        try:
            result = await bucket.throttled.limit(f"{kind}:{user_id}")
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Redis down must not stop writes, which do not need it: let this one through.
            log.warning("rate limits unavailable (%s): %s of user %s not counted", error, kind,
                        user_id)
            return
        if result.limited:
            wait = max(1, math.ceil(result.state.retry_after))
            raise ProblemError(
                429, "rate-limited", "Too Many Requests",
                f"at most {bucket.limit} {kind} per {bucket.period}; try again in {wait} s",
                headers={"Retry-After": str(wait)})
