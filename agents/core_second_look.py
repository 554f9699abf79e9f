"""The core projection's second look, for agents workers applying partitions side by side.

A post (or retweet) and a follow of its author come from different partitions (the author's,
the follower's), which two workers may apply at the same moment. The post's batch reads the
author's followers in its transaction, then pushes; the follow's batch reads the author's
recents before its transaction, then copies them. Each may miss the other, and the follower's
home timeline would miss the post for good. So once its own writes are done, each batch
looks again: the post's at the author's followers (pushing to those it did not know), the
follow's at the author's recents (copying them again: the same members, nothing doubles).
Each looks after its own writes are visible (the post's in Redis, the follow's committed),
so of two that overlap, at least the second to look sees the other's.

A worker that finds itself alone among the live workers once its writes are done skips the
second look: a worker applies nothing before it is recorded among them (agents/handover.py),
so any batch that overlapped this one was recorded by then. So one worker pays nothing for
it; a replay's context (no workers) neither.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.context import AgentContext
from agents.core_backfill import recents_to_copy, timeline_copies
from agents.core_redis import Planned
from projections.redis_batch import RedisBatch
from projections.timeline_writes import TimelineWrites


async def look_again(context: AgentContext, planned: Planned, graph_events) -> None:
    """Push the batch's pushed entries to followers its authors gained meanwhile, and copy
    what its new followees' recents gained meanwhile (after write_redis)."""
    models = context.models
    pushed = {delivery.author_id for delivery in planned.deliveries if delivery.push}
    follows = sorted(set(planned.graph.follows) - planned.edges.refused)
    if not pushed and not follows:
        return
    if context.workers is None or await context.workers.alone(context.worker):
        return
    async with models.pool.connection() as conn:
        followers = await models.graph.followers_of(conn, pushed)
        copies = {}
        if follows:
            recents = await recents_to_copy(context, graph_events)
            copies, _ = await timeline_copies(
                context, conn, planned.graph, recents, planned.edges.refused
            )
    timelines, keys, cap = TimelineWrites(), models.keys, models.timelines.home_cap
    for delivery in planned.deliveries:
        author = delivery.author_id
        gained = sorted(set(followers.get(author, ())) - set(planned.followers.get(author, ())))
        if delivery.push and gained:
            homes = [keys.home(follower) for follower in gained]
            timelines.push(("gained", author), _named(homes), [delivery.entry], cap)
    for follower, followee in follows:
        # Only what the first copy lacked: entries newer than it, so no gap opens below them.
        copied = set(planned.backfills[followee][0])
        newer = [entry for entry in copies[followee][0] if entry not in copied]
        timelines.push(("home", follower), _named([keys.home(follower)]), newer, cap)
    batch = RedisBatch(models.redis)
    models.timelines.queue_writes(batch, timelines.finish())
    await batch.execute()


def _named(keys: list[str]) -> Callable[[], list[str]]:
    return lambda: keys
