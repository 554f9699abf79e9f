"""Scripts run many to a round trip on the real Valkey, also after its script cache is flushed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from infra.redis_clients import async_redis
from infra.redis_scripts import run_scripts

_INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
_ECHO = "return ARGV[1]"


def _run(stack, steps):
    async def go():
        client = async_redis(stack.settings)
        try:
            return await steps(client, f"scripts-{uuid.uuid4().hex[:8]}:")
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_calls_answer_in_order_and_scripts_the_server_lost_are_loaded_and_run_once(stack):
    async def steps(client: Redis, prefix: str):
        incr, echo = client.register_script(_INCR), client.register_script(_ECHO)
        calls = [(incr, [f"{prefix}a"], [2]), (echo, [], ["x"]), (incr, [f"{prefix}a"], [3])]
        first = await run_scripts(client, calls)
        # As after a restart, with one script loaded again since (by another process).
        await client.script_flush()
        await client.script_load(_INCR)
        assert await client.script_exists(incr.sha, echo.sha) == [True, False]
        second = await run_scripts(client, calls)
        return first, second, int(await client.get(f"{prefix}a"))

    first, second, total = _run(stack, steps)
    assert first == [2, b"x", 5]
    # Every call ran exactly once more: the increments that ran were not run again.
    assert second == [7, b"x", 10] and total == 10


def test_a_failing_call_raises_its_error(stack):
    async def steps(client: Redis, prefix: str):
        await client.set(f"{prefix}text", "not a number")
        incr = client.register_script(_INCR)
        with pytest.raises(ResponseError):
            await run_scripts(client, [(incr, [f"{prefix}text"], [1])])
        return await client.get(f"{prefix}text")

    assert _run(stack, steps) == b"not a number"
