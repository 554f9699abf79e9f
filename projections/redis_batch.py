"""The Redis writes of one batch, in order, in one pipelined round trip.

Scripts go as plain EVALSHA (infra/redis_scripts.py says why). Should the server not
know one (it restarted, or its script cache was flushed), the scripts are loaded and the
whole batch is sent again: sending a batch's writes twice leaves what sending them once does,
as a redelivered batch would.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from infra.redis_scripts import queue_evalsha


class RedisBatch:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._calls: list[tuple[AsyncScript | None, Sequence, Sequence]] = []

    def __len__(self) -> int:
        return len(self._calls)

    def command(self, *args) -> int:
        """Queue a command; return the index of its result."""
        self._calls.append((None, (), args))
        return len(self._calls) - 1

    def script(self, script: AsyncScript, keys: Sequence, args: Sequence) -> int:
        """Queue a script call; return the index of its result."""
        self._calls.append((script, keys, args))
        return len(self._calls) - 1

    async def execute(self) -> list:
        """Send every queued write; their results in order. Raises the first error."""
        if not self._calls:
            return []
        results = await self._send()
        if any(isinstance(result, NoScriptError) for result in results):
            for script in {script for script, _, _ in self._calls if script is not None}:
                await self.redis.script_load(script.script)
            results = await self._send()
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def _send(self) -> list:
        async with self.redis.pipeline(transaction=False) as pipe:
            for script, keys, args in self._calls:
                if script is None:
                    pipe.execute_command(*args)
                else:
                    queue_evalsha(pipe, script, keys, args)
            return await pipe.execute(raise_on_error=False)
