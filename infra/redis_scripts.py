"""Server-side scripts run many to a round trip.

redis-py's pipeline asks the server whether its scripts are loaded (SCRIPT EXISTS) before
every execution: one more round trip per pipeline, on the fan-out's hottest path. Here the
calls go as plain EVALSHA, and only a call the server answers NOSCRIPT (it restarted, or its
script cache was flushed) is run again after loading its script.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

ScriptCall = tuple[AsyncScript, Sequence, Sequence]  # (script, keys, args)


async def run_scripts(redis: Redis, calls: Sequence[ScriptCall]) -> list:
    """Each call's result, in order, from one pipelined round trip when the scripts are loaded."""
    results = await _evalsha(redis, calls)
    missing = [n for n, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        for script in {calls[n][0] for n in missing}:
            await redis.script_load(script.script)
        for n, result in zip(
            missing, await _evalsha(redis, [calls[n] for n in missing]), strict=True
        ):
            results[n] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


async def _evalsha(redis: Redis, calls: Sequence[ScriptCall]) -> list:
    async with redis.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            queue_evalsha(pipe, script, keys, args)
        return await pipe.execute(raise_on_error=False)


def queue_evalsha(pipe, script: AsyncScript, keys: Sequence, args: Sequence) -> None:
    """Queue a script call by its SHA. As a plain command: a cluster pipeline refuses its
    evalsha method, yet routes the command by its keys (all in one slot)."""
    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
