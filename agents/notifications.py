"""The notifications agent: every event topic into the notifications read model (and the
mentions timeline), one PostgreSQL transaction per batch.

The events name whom they reach, so the agent reads no other read model and runs beside the
core agents, in its own consumer group, at its own pace (projections/notification_plan.py,
projections/postgres_notifications.py). Once a batch is committed, its new notifications are
told to their connected recipients in one Redis round trip (docs/streaming.md)."""

from __future__ import annotations

from agents.consumer import Batching
from agents.context import AgentContext
from projections.live_events import notification_live_events
from projections.notification_plan import plan_notifications
from schemas import events as ev

# Notifications are read less often than home timelines, and a batch costs one transaction:
# a tenth of a second apart at most under a steady stream.
NOTIFICATIONS_BATCHING = Batching(max_records=5000, fetch_wait_ms=10, interval_ms=100)


async def apply_notifications(context: AgentContext, events: list[ev.Event]) -> None:
    """Apply decoded events (each key's events in log order) as one batch."""
    plan = plan_notifications(events, context.settings.notification_group_seconds)
    deleted = sorted({event.user_id for event in events if isinstance(event, ev.UserDeleted)})
    if plan.empty and not deleted:
        return
    models = context.models
    async with models.pool.connection() as conn, conn.transaction():
        await models.notifications.write(conn, plan)
        # Deleted accounts leave last: their notifications, and those they caused.
        await models.notifications.erase(conn, deleted)
    if context.publishes_live and (told := notification_live_events(plan)):
        await models.live.publish(told)
