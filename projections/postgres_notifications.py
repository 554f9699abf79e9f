"""The notifications read model in PostgreSQL: one schema per generation
(`Settings.notifications_schema`), written by the notifications agent, read by the API.

- `actions`: who did what to whom about which target (projections/notification_plan.py);
- `groups`: per recipient, kind, target and span, how many actions there are and the newest
  one's event id, which orders a recipient's notifications (newest first). Counts move by the
  action rows really added or taken out (RETURNING), so a redelivered batch moves nothing, and
  a group of 10,000 likes is one row, read in one index step;
- `read_marks`: how far each user has marked read; `deleted_tweets`: the tweets no action may
  be about any more (a like applied after its tweet's deletion stays out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.notification_plan import USER_KINDS, Kind, NotificationPlan

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.actions (
    target_id bigint NOT NULL,
    kind text NOT NULL,
    actor_id bigint NOT NULL,
    recipient_id bigint NOT NULL,
    span bigint NOT NULL,
    event_id bigint NOT NULL,
    PRIMARY KEY (target_id, kind, actor_id, recipient_id)
);
CREATE INDEX IF NOT EXISTS actions_of_group
    ON {schema}.actions (recipient_id, kind, target_id, span, event_id DESC);
CREATE TABLE IF NOT EXISTS {schema}.groups (
    recipient_id bigint NOT NULL,
    kind text NOT NULL,
    target_id bigint NOT NULL,
    span bigint NOT NULL,
    actors integer NOT NULL,
    latest_event_id bigint NOT NULL,
    PRIMARY KEY (recipient_id, kind, target_id, span)
);
CREATE INDEX IF NOT EXISTS groups_newest ON {schema}.groups (recipient_id, latest_event_id DESC);
CREATE TABLE IF NOT EXISTS {schema}.read_marks (
    recipient_id bigint PRIMARY KEY,
    up_to bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.deleted_tweets (tweet_id bigint PRIMARY KEY);
"""

# How many of a group's actors, newest first, a page shows.
SHOWN_ACTORS = 3

GroupKey = tuple[int, str, int, int]  # recipient, kind, target, span


@dataclass(frozen=True)
class Group:
    """One notification: `kind` about `target_id` by `actor_count` actors, the newest of
    them first in `actor_ids`; `latest_id` the newest action's event id."""

    kind: Kind
    target_id: int
    span: int
    actor_count: int
    latest_id: int
    actor_ids: tuple[int, ...]
    read: bool


class PostgresNotifications:
    def __init__(self, pool: AsyncConnectionPool, schema: str) -> None:
        self.pool, self.schema = pool, schema

    async def setup(self) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            # One process at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            await conn.execute(SCHEMA_SQL.format(schema=self.schema))

    async def drop(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    # ---- writing ------------------------------------------------------------------------

    async def write(self, conn: AsyncConnection, plan: NotificationPlan) -> None:
        """Apply `plan` in the caller's transaction."""
        s = self.schema
        await self._lock_tweets(conn, plan)
        taken: list[GroupKey] = []
        if plan.deleted_tweets:
            deleted = sorted(plan.deleted_tweets)
            await conn.execute(
                f"INSERT INTO {s}.deleted_tweets SELECT unnest(%s::bigint[])"
                " ON CONFLICT DO NOTHING",
                (deleted,),
            )
            cursor = await conn.execute(
                f"DELETE FROM {s}.actions WHERE target_id = ANY(%s)"
                " RETURNING recipient_id, kind, target_id, span",
                (deleted,),
            )
            taken += await cursor.fetchall()
        if plan.removals:
            targets, kinds, actors = zip(*plan.removals, strict=True)
            cursor = await conn.execute(
                f"DELETE FROM {s}.actions a USING unnest(%s::bigint[], %s::text[], %s::bigint[])"
                " AS r(target_id, kind, actor_id) WHERE a.target_id = r.target_id"
                " AND a.kind = r.kind AND a.actor_id = r.actor_id"
                " RETURNING a.recipient_id, a.kind, a.target_id, a.span",
                (list(targets), list(kinds), list(actors)),
            )
            taken += await cursor.fetchall()
        added: list[tuple[int, str, int, int, int]] = []
        if plan.adds:
            adds = plan.adds
            cursor = await conn.execute(
                f"INSERT INTO {s}.actions"
                " (target_id, kind, actor_id, recipient_id, span, event_id)"
                " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[],"
                " %s::bigint[], %s::bigint[]) AS x(target_id, kind, actor_id, recipient_id, span,"
                " event_id)"
                f" WHERE NOT EXISTS (SELECT 1 FROM {s}.deleted_tweets d"
                " WHERE d.tweet_id = x.target_id)"
                " ON CONFLICT DO NOTHING"
                " RETURNING recipient_id, kind, target_id, span, event_id",
                (
                    [a.target_id for a in adds],
                    [str(a.kind) for a in adds],
                    [a.actor_id for a in adds],
                    [a.recipient_id for a in adds],
                    [a.span for a in adds],
                    [a.event_id for a in adds],
                ),
            )
            added = await cursor.fetchall()
        await self._move_groups(conn, taken, added)
        if plan.reads:
            users = sorted(plan.reads)
            await conn.execute(
                f"INSERT INTO {s}.read_marks (recipient_id, up_to)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
                " ON CONFLICT (recipient_id) DO UPDATE"
                f" SET up_to = greatest({s}.read_marks.up_to, excluded.up_to)",
                (users, [plan.reads[user] for user in users]),
            )

    async def erase(self, conn: AsyncConnection, user_ids: Sequence[int]) -> None:
        """Remove the notifications of deleted users and those they caused (their actions in
        other users' groups, which shrink or go), in the caller's transaction. Erasing again
        removes nothing more."""
        if not user_ids:
            return
        s, users = self.schema, sorted(user_ids)
        cursor = await conn.execute(
            f"DELETE FROM {s}.actions WHERE actor_id = ANY(%s) OR recipient_id = ANY(%s)"
            " RETURNING recipient_id, kind, target_id, span",
            (users, users),
        )
        gone = set(users)
        taken = [row for row in await cursor.fetchall() if row[0] not in gone]
        await conn.execute(f"DELETE FROM {s}.groups WHERE recipient_id = ANY(%s)", (users,))
        await conn.execute(f"DELETE FROM {s}.read_marks WHERE recipient_id = ANY(%s)", (users,))
        await self._move_groups(conn, taken, [])

    async def _lock_tweets(self, conn: AsyncConnection, plan: NotificationPlan) -> None:
        """Hold, until the caller's transaction ends, a lock on each tweet this plan deletes or
        adds actions about. A tweet's deletion and an action about it come from different
        partitions, which several agents workers apply at once: without the lock, an action
        inserted while the deletion is under way sees no deletion yet, and the deletion
        does not see the action, so it would outlive its tweet. All of a batch's locks are
        taken in one statement in one order, so two batches cannot deadlock on them."""
        tweets = set(plan.deleted_tweets) | {
            action.target_id for action in plan.adds if action.kind not in USER_KINDS
        }
        if tweets:
            # unnest keeps the array's (sorted) order.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s), hashint8(t))"
                " FROM unnest(%s::bigint[]) AS t",
                (self.schema, sorted(tweets)),
            )

    async def _move_groups(
        self,
        conn: AsyncConnection,
        taken: Sequence[GroupKey],
        added: Sequence[tuple[int, str, int, int, int]],
    ) -> None:
        """Each group's count by the actions taken out and added; its newest action again
        where one was taken out; groups with no action left dropped."""
        s = self.schema
        moves: dict[GroupKey, list[int]] = {}
        for recipient, kind, target, span in taken:
            moves.setdefault((recipient, kind, target, span), [0, 0])[0] -= 1
        for recipient, kind, target, span, event_id in added:
            move = moves.setdefault((recipient, kind, target, span), [0, 0])
            move[0] += 1
            move[1] = max(move[1], event_id)
        if not moves:
            return
        keys = sorted(moves)  # one order for every writer: no deadlock between workers
        columns = [list(column) for column in zip(*keys, strict=True)]
        await conn.execute(
            f"INSERT INTO {s}.groups"
            " (recipient_id, kind, target_id, span, actors, latest_event_id)"
            " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[],"
            " %s::int[], %s::bigint[])"
            " ON CONFLICT (recipient_id, kind, target_id, span) DO UPDATE"
            f" SET actors = {s}.groups.actors + excluded.actors,"
            f" latest_event_id = greatest({s}.groups.latest_event_id, excluded.latest_event_id)",
            (*columns, [moves[key][0] for key in keys], [moves[key][1] for key in keys]),
        )
        shrunk = sorted({tuple(key) for key in taken})
        if shrunk:
            columns = [list(column) for column in zip(*shrunk, strict=True)]
            group = (
                "g.recipient_id = r.recipient_id AND g.kind = r.kind"
                " AND g.target_id = r.target_id AND g.span = r.span"
            )
            touched = (
                "unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[])"
                " AS r(recipient_id, kind, target_id, span)"
            )
            await conn.execute(
                f"DELETE FROM {s}.groups g USING {touched} WHERE {group} AND g.actors <= 0",
                columns,
            )
            await conn.execute(
                f"UPDATE {s}.groups g SET latest_event_id = (SELECT max(a.event_id)"
                f" FROM {s}.actions a WHERE a.recipient_id = g.recipient_id AND a.kind = g.kind"
                " AND a.target_id = g.target_id AND a.span = g.span)"
                f" FROM {touched} WHERE {group}",
                columns,
            )

    # ---- reading ------------------------------------------------------------------------

    async def page(
        self,
        recipient_id: int,
        kinds: Sequence[Kind],
        before: int | None,
        limit: int,
    ) -> list[Group]:
        """The recipient's notifications of `kinds`, newest first, older than `before` (a
        `latest_id`), with each group's newest actors and whether it was read."""
        s = self.schema
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT g.kind, g.target_id, g.span, g.actors, g.latest_event_id,"
                f" ARRAY(SELECT a.actor_id FROM {s}.actions a"
                " WHERE a.recipient_id = g.recipient_id AND a.kind = g.kind"
                " AND a.target_id = g.target_id AND a.span = g.span"
                " ORDER BY a.event_id DESC LIMIT %s),"
                " g.latest_event_id <= coalesce(("
                f"SELECT up_to FROM {s}.read_marks WHERE recipient_id = %s), 0)"
                f" FROM {s}.groups g"
                " WHERE g.recipient_id = %s AND g.latest_event_id < %s AND g.kind = ANY(%s)"
                " ORDER BY g.latest_event_id DESC LIMIT %s",
                (
                    SHOWN_ACTORS,
                    recipient_id,
                    recipient_id,
                    before if before is not None else 2**63 - 1,
                    [str(kind) for kind in kinds],
                    limit,
                ),
            )
            rows = await cursor.fetchall()
        return [
            Group(Kind(kind), target, span, count, latest, tuple(actors), read)
            for kind, target, span, count, latest, actors, read in rows
        ]

    async def unread_count(self, recipient_id: int) -> int:
        s = self.schema
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT count(*) FROM {s}.groups WHERE recipient_id = %s AND latest_event_id >"
                f" coalesce((SELECT up_to FROM {s}.read_marks WHERE recipient_id = %s), 0)",
                (recipient_id, recipient_id),
            )
            row = await cursor.fetchone()
        assert row is not None  # count(*) answers one row
        return row[0]

    async def tweets_addressing(
        self, recipient_id: int, kinds: Sequence[Kind], before: int | None, limit: int
    ) -> list[int]:
        """The tweets that notified the recipient as one of `kinds` (the mentions timeline),
        newest first, older than the tweet id `before`."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT target_id FROM {self.schema}.actions"
                " WHERE recipient_id = %s AND kind = ANY(%s) AND target_id < %s"
                " ORDER BY target_id DESC LIMIT %s",
                (
                    recipient_id,
                    [str(kind) for kind in kinds],
                    before if before is not None else 2**63 - 1,
                    limit,
                ),
            )
            return [tweet_id for (tweet_id,) in await cursor.fetchall()]
