"""Two agents workers write the notifications at once: one deletes a tweet (its author's
partition) while the other records a like of it (the tweet's partition). Whichever commits
first, no notification outlives the tweet (projections/postgres_notifications.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from projections.notification_plan import plan_notifications
from projections.postgres_notifications import PostgresNotifications
from schemas import events as ev
from tests.support.store_loop import store_loop

AUTHOR, FAN, TWEET = 1, 2, 7_000_000_000_000_000_001
NOW = datetime(2026, 12, 1, tzinfo=UTC)
GROUP_SECONDS = 86_400


def test_a_like_recorded_while_its_tweet_is_being_deleted_does_not_outlive_it(stack):
    schema = f"notify_{uuid.uuid4().hex[:8]}"
    deletion = plan_notifications(
        [
            ev.TweetDeleted(
                event_id=11, occurred_at=NOW, actor_id=AUTHOR, tweet_id=TWEET, author_id=AUTHOR
            )
        ],
        GROUP_SECONDS,
    )
    like = plan_notifications(
        [
            ev.TweetLiked(
                event_id=12,
                occurred_at=NOW,
                actor_id=FAN,
                tweet_id=TWEET,
                user_id=FAN,
                author_id=AUTHOR,
            )
        ],
        GROUP_SECONDS,
    )
    assert deletion.deleted_tweets and like.adds

    with store_loop(stack.settings) as (loop, pool, _):
        notifications = PostgresNotifications(pool, schema)

        async def scenario() -> tuple[int, int]:
            await notifications.setup()
            deleted, deleting = asyncio.Event(), asyncio.Event()

            async def delete() -> None:
                async with pool.connection() as conn, conn.transaction():
                    await notifications.write(conn, deletion)
                    deleting.set()
                    await deleted.wait()  # committed only once the like has had its go

            async def record_like() -> None:
                async with pool.connection() as conn, conn.transaction():
                    await notifications.write(conn, like)

            deleter = asyncio.create_task(delete())
            await deleting.wait()
            liker = asyncio.create_task(record_like())
            # The like either waits for the deletion (its lock) or is done: then commit it.
            while not liker.done() and not await _waiting_on_a_lock(pool):
                await asyncio.sleep(0.01)
            deleted.set()
            await asyncio.gather(deleter, liker)
            async with pool.connection() as conn:
                actions = await (
                    await conn.execute(f"SELECT count(*) FROM {schema}.actions")
                ).fetchone()
            unread = await notifications.unread_count(AUTHOR)
            await notifications.drop()
            return actions[0], unread

        assert loop.run_until_complete(scenario()) == (0, 0)


async def _waiting_on_a_lock(pool) -> bool:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        ).fetchone()
    return row[0] > 0
