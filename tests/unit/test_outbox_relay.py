"""The outbox relay (commands/runner.py): acknowledged events leave the outbox on time even while
a resend waits on a stalled broker. In-memory stand-ins for the write model and the producer:
this tests the relay's scheduling only (tests/faults/test_broker_pause.py runs the real one)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from commands.runner import CONFIRM_INTERVAL_SECONDS, RELAY_INTERVAL_SECONDS, CommandRunner
from schemas import events as ev
from streams.ids import SnowflakeIds


class StalledProducer:
    """A broker that took the resend and never answers."""

    timeout_ms = 0

    async def enqueue(self, event: ev.Event) -> asyncio.Future:
        return asyncio.get_running_loop().create_future()

    async def wait(self, acked: asyncio.Future):
        return await acked


class Outbox:
    """One old event of user 1 to resend; what was confirmed, in order."""

    def __init__(self, stuck_event: bytes) -> None:
        self.stuck_event = stuck_event
        self.confirmed_ids: list[int] = []

    async def actors_with_unconfirmed(self, older_than_seconds: float) -> list[str]:
        return ["user:1"]

    @asynccontextmanager
    async def transaction(self):
        yield self

    async def unconfirmed(self, actor: str, older_than_seconds: float | None = None):
        return [(1, self.stuck_event)]

    async def confirmed(self, event_ids: list[int]) -> None:
        self.confirmed_ids.extend(event_ids)


def test_acknowledged_events_leave_the_outbox_while_a_resend_waits_on_the_broker():
    stuck = ev.encode(
        ev.UserFollowed(
            event_id=1,
            occurred_at=datetime.now(UTC),
            actor_id=1,
            follower_id=1,
            followee_id=2,
        )
    )
    outbox = Outbox(stuck)
    runner = CommandRunner(outbox, StalledProducer(), SnowflakeIds(worker_id=1))

    async def scenario() -> list[int]:
        relay = asyncio.create_task(runner.relay_forever())
        # The resend starts and hangs; then a write of another actor is acknowledged.
        await asyncio.sleep(RELAY_INTERVAL_SECONDS + CONFIRM_INTERVAL_SECONDS)
        runner._acknowledged.add(2)
        await asyncio.sleep(3 * CONFIRM_INTERVAL_SECONDS)
        relay.cancel()
        return outbox.confirmed_ids

    assert asyncio.run(scenario()) == [2]
