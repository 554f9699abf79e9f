"""Write rate limits: a token bucket per user and kind of write, and per client address for
sign-ups, in Redis (throttled-py), so that every API process draws from the same bucket.

Seed 003's defaults: 10 tweets a minute, 100 follows an hour, 1,000 likes an hour, each with
a burst of the same size; `CHIRP_RATE_LIMIT_*` change them (0: no limit). Only writes that
would produce a new event draw a token: a retry replaying its stored answer does not.
Sign-ups: `CHIRP_SIGNUP_PER_IP_PER_HOUR` (20) from one address, every attempt drawing one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from throttled.asyncio import RateLimiterType, Throttled, rate_limiter, store
from throttled.exceptions import StoreUnavailableError

from api.problems import ProblemError
from infra.redis_clients import throttled_server
from infra.settings import Settings

log = logging.getLogger("chirp.api.limits")


_SECONDS = {"minute": 60, "hour": 3600}


@dataclass(frozen=True)
class _Bucket:
    throttled: Throttled
    limit: int
    period: str
    what: str  # "tweets per minute"


@dataclass(frozen=True)
class Quota:
    """A bucket's state after a write drew from it, told to the client in the IETF draft's
    fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "tweets";q=10;w=60`
    (the quota and its window, in seconds) and `RateLimit: "tweets";r=7;t=12` (what remains
    and the seconds until the bucket is full again)."""

    kind: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.kind}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{self.kind}";r={self.remaining};t={self.reset_seconds}',
        }


class WriteLimits:
    """The write limits of `settings`; `take(kind, who)` raises 429 once a bucket is empty
    (`who`: a user id, or a client address for sign-ups)."""

    def __init__(self, settings: Settings) -> None:
        backend = store.RedisStore(
            server=throttled_server(settings),
            options={"SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2},
        )
        prefix = f"{settings.redis_prefix.strip(':')}:rate-limits"
        per_minute, per_hour = rate_limiter.per_min, rate_limiter.per_hour
        quotas = {
            "tweets": (
                settings.rate_limit_tweets_per_minute,
                "minute",
                per_minute,
                "tweets per minute",
            ),
            "follows": (settings.rate_limit_follows_per_hour, "hour", per_hour, "follows per hour"),
            "likes": (settings.rate_limit_likes_per_hour, "hour", per_hour, "likes per hour"),
            "signups": (
                settings.signup_per_ip_per_hour,
                "hour",
                per_hour,
                "sign-ups per hour from one address",
            ),
        }
        self._buckets = {
            kind: _Bucket(
                Throttled(
                    using=RateLimiterType.TOKEN_BUCKET.value,
                    quota=per(limit, burst=limit),
                    store=backend,
                    key_prefix=prefix,
                ),
                limit,
                period,
                what,
            )
            for kind, (limit, period, per, what) in quotas.items()
            if limit > 0
        }

    async def take(self, kind: str, who: int | str) -> Quota | None:
        """Draw a token; the bucket's state after it (None: no limit, or Redis is down)."""
        bucket = self._buckets.get(kind)
        if bucket is None:
            return None
        try:
            result = await bucket.throttled.limit(f"{kind}:{who}")
        # throttled-py 3.5 wraps Redis's connection errors in StoreUnavailableError: before
        # it was caught here, Redis down turned every limited write into a 500.
        except (StoreUnavailableError, RedisConnectionError, RedisTimeoutError) as error:
            # Redis down must not stop writes, which do not need it: let this one through.
            log.warning("rate limits unavailable (%s): %s of %s not counted", error, kind, who)
            return None
        state = result.state
        quota = Quota(
            kind,
            bucket.limit,
            _SECONDS[bucket.period],
            state.remaining,
            max(0, math.ceil(state.reset_after)),
        )
        if result.limited:
            wait = max(1, math.ceil(state.retry_after))
            raise ProblemError(
                429,
                "rate-limited",
                "Too Many Requests",
                f"at most {bucket.limit} {bucket.what}; try again in {wait} s",
                headers={"Retry-After": str(wait), **quota.headers()},
            )
        return quota
