"""The agents workers of a deployment, in Redis: which are alive, and which have paused for a
read model's handover to a new generation (projections/targets.py).

A replay may switch only once no worker is applying to the old generation any more: each
worker pauses on its own, and the handover is answered when every live worker has paused.
A worker is live while its heartbeats keep coming (scored with Redis's clock, so workers on
other machines agree); one that stopped cleanly leaves at once, one that was killed once its
last heartbeat is WORKER_TIMEOUT_SECONDS old.
"""

from __future__ import annotations

from redis.asyncio import Redis

from infra.redis_scripts import run_scripts
from projections.redis_keys import RedisKeys

# A worker silent this long is dead: the Kafka session timeout the agents' consumers use.
WORKER_TIMEOUT_SECONDS = 10.0
# The record of a handover's pauses outlives any handover (targets.HANDOVER_TIMEOUT_SECONDS).
PAUSES_KEPT_SECONDS = 600

# KEYS[1] the workers; ARGV worker, timeout ms. Drops the dead, then records this one.
_HEARTBEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ms, ARGV[1])
"""
# KEYS[1] the workers, KEYS[2] the paused ones; ARGV timeout ms. 1 if every live worker paused.
_ALL_PAUSED = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ms - tonumber(ARGV[1]), '+inf')) do
  if redis.call('SISMEMBER', KEYS[2], worker) == 0 then return 0 end
end
return 1
"""


class RedisAgentWorkers:
    """The live workers of agents group `group`, and their pauses."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        group: str,
        timeout_seconds: float = WORKER_TIMEOUT_SECONDS,
    ) -> None:
        self.redis, self.keys, self.group = redis, keys, group
        self._timeout_ms = int(timeout_seconds * 1000)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._all_paused = redis.register_script(_ALL_PAUSED)

    async def heartbeat(self, worker: str) -> None:
        """`worker` is alive now."""
        await run_scripts(
            self.redis,
            [(self._heartbeat, [self.keys.agent_workers(self.group)], [worker, self._timeout_ms])],
        )

    async def leave(self, worker: str) -> None:
        """`worker` stops: no handover waits for it."""
        await self.redis.zrem(self.keys.agent_workers(self.group), worker)

    async def alone(self, worker: str) -> bool:
        """Whether no live worker but `worker` is recorded now."""
        return all(other == worker for other in await self.live())

    async def live(self) -> list[str]:
        """The workers heard from within WORKER_TIMEOUT_SECONDS."""
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        members = await self.redis.zrangebyscore(
            self.keys.agent_workers(self.group), now_ms - self._timeout_ms, "+inf"
        )
        return sorted(member.decode() for member in members)

    async def pause(self, worker: str, base: str, generation: int) -> None:
        """`worker` applies nothing to `base` until it switches to `generation`."""
        key = self.keys.paused_workers(self.group, base, generation)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, worker)
            pipe.expire(key, PAUSES_KEPT_SECONDS)
            await pipe.execute()

    async def all_paused(self, base: str, generation: int) -> bool:
        """Whether every live worker has paused for the handover of `base` to `generation`."""
        [answer] = await run_scripts(
            self.redis,
            [
                (
                    self._all_paused,
                    [
                        self.keys.agent_workers(self.group),
                        self.keys.paused_workers(self.group, base, generation),
                    ],
                    [self._timeout_ms],
                )
            ],
        )
        return bool(answer)
