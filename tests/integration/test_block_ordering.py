"""A block and a follow of one pair come from two partitions (the blocker's, the follower's),
applied in either order, or at once by two agents workers: the graph ends up as the order of
their event ids says (projections/postgres_graph.py), on the real PostgreSQL and Valkey."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from agents.context import AgentContext
from agents.core import apply_core
from projections import graph_plan
from projections.fanout import CelebrityThreshold
from projections.read_models import build_read_models, setup_read_models
from schemas import events as ev
from tests.support.store_loop import store_loop

ADA, BOB = 1, 2
AT = datetime(2026, 12, 3, tzinfo=UTC)


def follow(event_id: int, follower: int = BOB, followee: int = ADA) -> ev.UserFollowed:
    return ev.UserFollowed(
        event_id=event_id,
        occurred_at=AT,
        actor_id=follower,
        follower_id=follower,
        followee_id=followee,
    )


def block(event_id: int, lifted: bool = False) -> ev.Event:
    cls = ev.UserUnblocked if lifted else ev.UserBlocked
    return cls(event_id=event_id, occurred_at=AT, actor_id=ADA, blocker_id=ADA, blocked_id=BOB)


@pytest.fixture
def graph(stack):
    """(loop, context) over a fresh schema and key prefix, dropped afterwards."""
    name = uuid.uuid4().hex[:6]
    settings = stack.settings.model_copy(
        update={"read_schema": f"blocks_{name}", "redis_prefix": f"blocks-{name}:"}
    )
    with store_loop(settings) as (loop, pool, redis):
        models = build_read_models(settings, pool, redis)
        loop.run_until_complete(setup_read_models(models))
        context = AgentContext(
            settings=settings,
            models=models,
            threshold=CelebrityThreshold(1000, 1000, float("inf")),
            search=None,
            archive=None,
        )
        yield loop, context
        loop.run_until_complete(_drop(context))


async def _drop(context) -> None:
    models = context.models
    async with models.pool.connection() as conn:
        await conn.execute(f"DROP SCHEMA {context.settings.core_schema} CASCADE")
    stale = [key async for key in models.redis.scan_iter(match=f"{models.keys.prefix}*")]
    if stale:
        await models.redis.delete(*stale)


async def _edges(context) -> list[tuple[int, int]]:
    async with context.models.pool.connection() as conn:
        rows = await conn.execute(
            f"SELECT follower_id, followee_id FROM {context.settings.core_schema}.follows"
        )
        return sorted(await rows.fetchall())


async def _counts(context) -> dict[int, tuple[int, int]]:
    async with context.models.pool.connection() as conn:
        rows = await conn.execute(
            "SELECT user_id, followers_count, following_count"
            f" FROM {context.settings.core_schema}.user_counts"
        )
        return {user: (a, b) for user, a, b in await rows.fetchall()}


def test_a_follow_made_before_a_block_is_ended_in_either_order(graph):
    loop, context = graph

    async def run():
        # The block's partition first: the earlier follow arriving later is not made.
        await apply_core(context, [block(20)])
        await apply_core(context, [follow(10), follow(11, ADA, BOB)])
        assert await _edges(context) == [] and await _counts(context) == {}
        # Lifted, then followed again (a later id, as the write model gives): made.
        await apply_core(context, [block(25, lifted=True)])
        await apply_core(context, [follow(30)])
        assert await _edges(context) == [(BOB, ADA)]
        # A redelivery of the old follow changes nothing; the next block ends the new one,
        # and the Redis following set loses it too.
        await context.models.redis.sadd(context.models.keys.following(BOB), ADA)
        await apply_core(context, [follow(10)])
        await apply_core(context, [block(40)])
        assert await _edges(context) == [] and await _counts(context) == {}
        assert await context.models.redis.smembers(context.models.keys.following(BOB)) == set()

    loop.run_until_complete(run())


def test_a_follow_and_a_block_applied_at_once_by_two_workers_never_pass_unseen(graph):
    loop, context = graph
    models, schema = context.models, context.settings.core_schema

    async def run():
        async with models.pool.connection() as first, models.pool.connection() as second:
            async with first.transaction():
                plan = graph_plan.plan_graph([follow(10)], set())
                await models.graph.write_edges(first, plan)
                # The block's batch, in another transaction, waits for the follow's ...
                blocking = asyncio.create_task(_write_block(second, models))
                pid = second.info.backend_pid
                while not await _waiting_on_lock(models, pid):
                    await asyncio.sleep(0.01)
                assert not blocking.done()
            # ... and once the follow is committed, sees it and ends it.
            changes = await blocking
        assert changes.ended == [(BOB, ADA)]
        assert await _edges(context) == []
        async with models.pool.connection() as conn:
            rows = await conn.execute(f"SELECT count(*) FROM {schema}.blocks WHERE active")
            assert (await rows.fetchone()) == (1,)

    loop.run_until_complete(run())


async def _write_block(conn, models):
    async with conn.transaction():
        return await models.graph.write_edges(conn, graph_plan.plan_graph([block(20)], set()))


async def _waiting_on_lock(models, pid: int) -> bool:
    async with models.pool.connection() as conn:
        rows = await conn.execute(
            "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted AND locktype = 'advisory'",
            (pid,),
        )
        return await rows.fetchone() is not None


def test_a_follow_made_after_the_block_was_lifted_survives_the_block_applied_late(graph):
    loop, context = graph
    keys = context.models.keys

    async def run():
        # The follower's partition first: the follow made after the unblock ...
        await context.models.redis.sadd(keys.following(BOB), "0")
        await apply_core(context, [follow(30)])
        assert await context.models.redis.smembers(keys.following(BOB)) == {b"0", b"1"}
        # ... then the blocker's, late: the block and its lifting end nothing.
        await apply_core(context, [block(20), block(25, lifted=True)])
        assert await _edges(context) == [(BOB, ADA)]
        assert await context.models.redis.smembers(keys.following(BOB)) == {b"0", b"1"}
        assert await _counts(context) == {ADA: (1, 0), BOB: (0, 1)}

    loop.run_until_complete(run())


def request(event_id: int, declined: bool = False) -> ev.Event:
    cls = ev.FollowRequestDeclined if declined else ev.FollowRequested
    return cls(event_id=event_id, occurred_at=AT, actor_id=BOB, follower_id=BOB, followee_id=ADA)


def unfollow(event_id: int) -> ev.UserUnfollowed:
    return ev.UserUnfollowed(
        event_id=event_id, occurred_at=AT, actor_id=BOB, follower_id=BOB, followee_id=ADA
    )


async def _open_requests(context) -> list[tuple[int, int]]:
    async with context.models.pool.connection() as conn:
        rows = await conn.execute(
            "SELECT follower_id, followee_id"
            f" FROM {context.settings.core_schema}.follow_requests WHERE active"
        )
        return sorted(await rows.fetchall())


@pytest.mark.parametrize("batches", [[[10, 20, 30]], [[10], [20], [30]], [[10, 20], [30]]])
def test_an_unfollow_withdraws_the_request_and_ends_the_follow_in_any_batching(graph, batches):
    """A request, its approval and the follower's unfollow: nothing is left, however the
    events fall into batches (one batch once left the request open)."""
    loop, context = graph
    events = {10: request(10), 20: follow(20), 30: unfollow(30)}

    async def run():
        for batch in batches:
            await apply_core(context, [events[event_id] for event_id in batch])
        assert await _edges(context) == [] and await _open_requests(context) == []
        # A follower who asks again (the write model does not know follows) and then
        # unfollows: the follow ends and the request is withdrawn.
        await apply_core(context, [follow(40), request(50)])
        assert await _edges(context) == [(BOB, ADA)] and await _open_requests(context) == [
            (BOB, ADA)
        ]
        await apply_core(context, [unfollow(60)])
        assert await _edges(context) == [] and await _open_requests(context) == []
        assert await _counts(context) in ({}, {ADA: (0, 0), BOB: (0, 0)})

    loop.run_until_complete(run())


def test_a_follow_and_an_unfollow_of_one_edge_end_as_their_ids_say_in_either_order(graph):
    """An approval (the account's outbox) and the follower's unfollow (theirs) may reach the
    follower's partition in either order: the later event wins."""
    loop, context = graph
    keys = context.models.keys

    async def run():
        await context.models.redis.sadd(keys.following(BOB), "0")
        # The unfollow first: the approval made before it, arriving late, is not made.
        await apply_core(context, [request(10)])
        await apply_core(context, [unfollow(30)])
        await apply_core(context, [follow(20)])
        assert await _edges(context) == [] and await _open_requests(context) == []
        assert await context.models.redis.smembers(keys.following(BOB)) == {b"0"}
        # A follow made after the unfollow is made; an older unfollow arriving after it
        # (a redelivery) takes nothing away, in the store or in Redis.
        await apply_core(context, [follow(40)])
        await apply_core(context, [unfollow(30)])
        assert await _edges(context) == [(BOB, ADA)]
        assert await context.models.redis.smembers(keys.following(BOB)) == {b"0", b"1"}
        assert await _counts(context) == {ADA: (1, 0), BOB: (0, 1)}

    loop.run_until_complete(run())
