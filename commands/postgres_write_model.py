"""The write model in PostgreSQL (schema `write_model`). Its tables are made and changed by the
revisions in operations/migrations/deployment/ (`chirp migrate`, docs/migrations.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import astuple

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from commands.model import Changes, MediaRecord, Needs, State, TweetRecord
from commands.write_model import Account, StoredResponse

# Clients retry within minutes; a day is what Stripe keeps keys for.
IDEMPOTENCY_KEY_TTL = "24 hours"
_MEDIA = (
    "SELECT media_id, owner_id, declared_type, declared_bytes, uploaded, created_at, attached_to,"
    " released_at, removed FROM write_model.media"
)


# How long a deleted account's username stays reserved, by default (as Twitter's 30 days
# of deactivation before an account's name is released).
USERNAME_HOLD_DAYS = 30


class PostgresWriteTransaction:
    def __init__(self, conn: AsyncConnection, username_hold_days: float = USERNAME_HOLD_DAYS):
        self.conn = conn
        self.username_hold_days = username_hold_days

    async def claim_idempotency_key(self, scope: str, key: str) -> StoredResponse | None:
        # A placeholder row taken first makes a concurrent claim of the same key wait on the
        # primary key until this transaction ends: it then sees the stored answer, or, if we
        # rolled back, takes the key itself.
        claimed = await self.conn.execute(
            "INSERT INTO write_model.idempotency_keys (scope, key, fingerprint, status)"
            " VALUES (%s, %s, '', 0) ON CONFLICT DO NOTHING RETURNING 1",
            (scope, key),
        )
        if await claimed.fetchone():
            return None
        row = await (
            await self.conn.execute(
                "SELECT fingerprint, status, body, created_at > now() - %s::interval"
                " FROM write_model.idempotency_keys WHERE scope = %s AND key = %s",
                (IDEMPOTENCY_KEY_TTL, scope, key),
            )
        ).fetchone()
        assert row is not None  # the row our insert conflicted with, committed
        if row[3]:
            return StoredResponse(fingerprint=row[0], status=row[1], body=row[2])
        # An expired key is taken afresh.
        await self.conn.execute(
            "UPDATE write_model.idempotency_keys SET created_at = now()"
            " WHERE scope = %s AND key = %s",
            (scope, key),
        )
        return None

    async def store_response(self, scope: str, key: str, response: StoredResponse) -> None:
        await self.conn.execute(
            "UPDATE write_model.idempotency_keys SET fingerprint = %s, status = %s, body = %s"
            " WHERE scope = %s AND key = %s",
            (response.fingerprint, response.status, Jsonb(response.body), scope, key),
        )

    async def load(
        self, needs: Needs, actor: str, older_than_seconds: float
    ) -> tuple[State, list[tuple[int, bytes]]]:
        # Every statement goes out before any result is read: one round trip (pipeline).
        users = tweets = usernames = media = None
        if needs.users:
            # A deleted account is no account: its token acts as nobody, no one can follow it.
            users = await self.conn.execute(
                "SELECT user_id, protected, region FROM write_model.accounts"
                " WHERE user_id = ANY(%s) AND deleted_at IS NULL",
                (sorted(needs.users),),
            )
        if needs.tweets:
            # With whether each author is protected: a protected account's tweets are
            # neither retweeted nor quoted by others. A deleted account's tweets read as
            # deleted: nothing replies to them any more.
            tweets = await self.conn.execute(
                "SELECT t.tweet_id, t.author_id, t.deleted OR a.deleted_at IS NOT NULL, a.protected"
                " FROM write_model.tweets t JOIN write_model.accounts a ON a.user_id = t.author_id"
                " WHERE t.tweet_id = ANY(%s) ORDER BY t.tweet_id"
                + (" FOR UPDATE OF t" if needs.lock_tweets else ""),
                (sorted(needs.tweets),),
            )
        if needs.usernames:
            usernames = await self.conn.execute(
                "SELECT lower(username), user_id FROM write_model.accounts"
                " WHERE lower(username) = ANY(%s) AND deleted_at IS NULL",
                (sorted(needs.usernames),),
            )
        if needs.media:
            media = await self.conn.execute(
                f"{_MEDIA} WHERE media_id = ANY(%s) ORDER BY media_id FOR UPDATE",
                (sorted(needs.media),),
            )
        pair_clock = blocks = requests = None
        if needs.pair is not None:
            # Held until the transaction ends; the reads below run after it is granted, so
            # they see the pair's last follow or block committed.
            await self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('write_model.pairs:' || %s, 0))",
                ("{}:{}".format(*needs.pair),),
            )
            pair_clock = await self.conn.execute(
                "SELECT last_event FROM write_model.pairs WHERE low_id = %s AND high_id = %s",
                needs.pair,
            )
            low, high = needs.pair
            requests = await self.conn.execute(
                "SELECT follower_id, followee_id FROM write_model.follow_requests"
                " WHERE (follower_id, followee_id) IN ((%s, %s), (%s, %s))",
                (low, high, high, low),
            )
        if needs.blocks:
            blocks = await self.conn.execute(
                "WITH named AS ("
                " SELECT unnest(%s::bigint[]) AS user_id"
                " UNION SELECT author_id FROM write_model.tweets WHERE tweet_id = ANY(%s)"
                " UNION SELECT user_id FROM write_model.accounts WHERE lower(username) = ANY(%s))"
                " SELECT blocker_id, blocked_id FROM write_model.blocks"
                " WHERE blocker_id IN (SELECT user_id FROM named)"
                " AND blocked_id IN (SELECT user_id FROM named)",
                (sorted(needs.users), sorted(needs.tweets), sorted(needs.usernames)),
            )
        key = None
        if needs.key_of is not None:
            key = await self.conn.execute(
                "SELECT key FROM write_model.user_keys WHERE user_id = %s", (needs.key_of,)
            )
        unconfirmed = await self._unconfirmed(actor, older_than_seconds)
        clock = await pair_clock.fetchone() if pair_clock else None
        key_row = await key.fetchone() if key else None
        accounts = await users.fetchall() if users else []
        tweet_rows = await tweets.fetchall() if tweets else []
        state = State(
            users=frozenset(row[0] for row in accounts),
            protected=frozenset(row[0] for row in accounts if row[1])
            | frozenset(row[1] for row in tweet_rows if row[3]),
            regions={row[0]: row[2] for row in accounts if row[2]},
            tweets={row[0]: TweetRecord(*row[:3]) for row in tweet_rows},
            usernames=dict(await usernames.fetchall()) if usernames else {},
            media={row[0]: MediaRecord(*row) for row in await media.fetchall()} if media else {},
            blocks=frozenset(await blocks.fetchall()) if blocks else frozenset(),
            pair_clock=clock[0] if clock else 0,
            requests=frozenset(await requests.fetchall()) if requests else frozenset(),
            key=bytes(key_row[0]) if key_row else None,
        )
        return state, await _rows(unconfirmed)

    async def apply(self, changes: Changes) -> str | None:
        if changes.account is not None:
            account = changes.account
            # A deleted account holds its username for the hold period; after it, the old
            # row lets go of the name ('~' is in no username: the API refuses it).
            await self.conn.execute(
                "UPDATE write_model.accounts SET username = '~' || user_id"
                " WHERE lower(username) = lower(%s)"
                " AND deleted_at < now() - %s * interval '1 day'",
                (account.username, self.username_hold_days),
            )
            reserved = await self.conn.execute(
                "INSERT INTO write_model.accounts (user_id, username, password_hash)"
                " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (account.user_id, account.username, account.password_hash),
            )
            if await reserved.fetchone() is None:
                holder = await self.conn.execute(
                    "SELECT deleted_at IS NOT NULL FROM write_model.accounts"
                    " WHERE lower(username) = lower(%s)",
                    (account.username,),
                )
                row = await holder.fetchone()
                return "username-reserved" if row is not None and row[0] else "username-taken"
        if changes.deleted_account is not None:
            await self._delete_account(changes.deleted_account)
        if changes.tweets:
            await self.conn.execute(
                "INSERT INTO write_model.tweets (tweet_id, author_id, deleted)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::boolean[])",
                (
                    [t.tweet_id for t in changes.tweets],
                    [t.author_id for t in changes.tweets],
                    [t.deleted for t in changes.tweets],
                ),
            )
        if changes.deleted:
            await self.conn.execute(
                "UPDATE write_model.tweets SET deleted = true WHERE tweet_id = ANY(%s)",
                (list(changes.deleted),),
            )
            # The deleted tweets' uploads: their files go after the grace period.
            await self.conn.execute(
                "UPDATE write_model.media SET released_at = now()"
                " WHERE attached_to = ANY(%s) AND released_at IS NULL",
                (list(changes.deleted),),
            )
        if changes.media:
            await self.conn.execute(
                "INSERT INTO write_model.media"
                " (media_id, owner_id, declared_type, declared_bytes, uploaded)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[],"
                " %s::boolean[])",
                tuple(
                    list(column)
                    for column in zip(
                        *(astuple(record)[:5] for record in changes.media), strict=True
                    )
                ),
            )
        if changes.uploaded:
            await self.conn.execute(
                "UPDATE write_model.media SET uploaded = true WHERE media_id = ANY(%s)",
                (list(changes.uploaded),),
            )
        if changes.attached:
            await self.conn.execute(
                "UPDATE write_model.media m SET attached_to = a.tweet_id"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS a(media_id, tweet_id)"
                " WHERE m.media_id = a.media_id",
                tuple(list(column) for column in zip(*changes.attached, strict=True)),
            )
        await self._pairs("blocks", ("blocker_id", "blocked_id"), changes.blocked, True)
        await self._pairs("blocks", ("blocker_id", "blocked_id"), changes.unblocked, False)
        if changes.pair_event is not None:
            (low, high), event_id = changes.pair_event
            await self.conn.execute(
                "INSERT INTO write_model.pairs (low_id, high_id, last_event) VALUES (%s, %s, %s)"
                " ON CONFLICT (low_id, high_id) DO UPDATE SET last_event = excluded.last_event",
                (low, high, event_id),
            )
        requests = ("follower_id", "followee_id")
        await self._pairs("follow_requests", requests, changes.requested, True)
        await self._pairs("follow_requests", requests, changes.unrequested, False)
        if changes.protection is not None:
            await self.conn.execute(
                "UPDATE write_model.accounts SET protected = %s WHERE user_id = %s",
                (changes.protection[1], changes.protection[0]),
            )
        if changes.region is not None:
            await self.conn.execute(
                "UPDATE write_model.accounts SET region = %s WHERE user_id = %s",
                (changes.region[1], changes.region[0]),
            )
        if changes.removed:
            await self.conn.execute(
                "UPDATE write_model.media SET removed = true WHERE media_id = ANY(%s)",
                (list(changes.removed),),
            )
        return None

    async def create_key(self, user_id: int, key: bytes) -> bytes:
        # Another API process may make the same account's first key at the same moment:
        # whichever is stored first is the one, and both seal with it.
        cursor = await self.conn.execute(
            "INSERT INTO write_model.user_keys (user_id, key) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET key = write_model.user_keys.key RETURNING key",
            (user_id, key),
        )
        row = await cursor.fetchone()
        assert row is not None  # an upsert always returns its row
        return bytes(row[0])

    async def _delete_account(self, user_id: int) -> None:
        """Mark the account deleted (its tweets then read as deleted: see `load`) and delete
        its key; its attached uploads are released, so the sweeper removes their files after
        the grace period, and its pending follow requests close."""
        await self.conn.execute(
            "UPDATE write_model.accounts SET deleted_at = now()"
            " WHERE user_id = %s AND deleted_at IS NULL",
            (user_id,),
        )
        await self.conn.execute(
            "UPDATE write_model.media SET released_at = now() WHERE owner_id = %s"
            " AND attached_to IS NOT NULL AND released_at IS NULL AND NOT removed",
            (user_id,),
        )
        await self.conn.execute(
            "DELETE FROM write_model.follow_requests WHERE follower_id = %s OR followee_id = %s",
            (user_id, user_id),
        )
        # The key goes: what the log holds of the person's words and names is ciphertext
        # no one can read any more (schemas/sealing.py).
        await self.conn.execute("DELETE FROM write_model.user_keys WHERE user_id = %s", (user_id,))

    async def _pairs(
        self, table: str, key: tuple[str, str], pairs: tuple[tuple[int, int], ...], present: bool
    ) -> None:
        """Insert (`present`) or delete these rows of a table keyed by a pair of users."""
        if not pairs:
            return
        first, second = key
        columns = tuple(list(column) for column in zip(*pairs, strict=True))
        if present:
            await self.conn.execute(
                f"INSERT INTO write_model.{table} ({first}, {second})"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                columns,
            )
        else:
            await self.conn.execute(
                f"DELETE FROM write_model.{table} t USING unnest(%s::bigint[], %s::bigint[])"
                f" AS u(a, b) WHERE t.{first} = u.a AND t.{second} = u.b",
                columns,
            )

    async def keep_unconfirmed(self, actor: str, event_id: int, event: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO write_model.unconfirmed_events (event_id, actor, event)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (event_id, actor, event),
        )

    async def unconfirmed(
        self, actor: str, older_than_seconds: float | None = None
    ) -> list[tuple[int, bytes]]:
        return await _rows(await self._unconfirmed(actor, older_than_seconds))

    async def _unconfirmed(self, actor: str, older_than_seconds: float | None):
        return await self.conn.execute(
            "SELECT event_id, event FROM write_model.unconfirmed_events WHERE actor = %s"
            " AND created_at < now() - make_interval(secs => %s) AND NOT acknowledged"
            " ORDER BY event_id FOR UPDATE",
            (actor, older_than_seconds or 0),
        )


class PostgresWriteModel:
    """WriteModel over a psycopg connection pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        archive_schema: str | None = None,
        username_hold_days: float = USERNAME_HOLD_DAYS,
    ) -> None:
        """`archive_schema`: acknowledged events stay in the outbox until the archive there
        holds them (None: they leave at once). `username_hold_days`: how long a deleted
        account's username stays reserved."""
        self.pool = pool
        self.archive_schema = archive_schema
        self.username_hold_days = username_hold_days

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresWriteTransaction]:
        # In pipeline mode: statements whose results nobody reads yet go out together, so a
        # post's BEGIN and reads are one round trip and its writes and COMMIT another.
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            yield PostgresWriteTransaction(conn, self.username_hold_days)

    async def account(self, username: str) -> Account | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT user_id, username, password_hash, deleted_at IS NOT NULL"
                " FROM write_model.accounts WHERE lower(username) = lower(%s)",
                (username,),
            )
            row = await cursor.fetchone()
        return Account(*row) if row else None

    async def deleted(self, user_id: int) -> bool:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT deleted_at IS NOT NULL FROM write_model.accounts WHERE user_id = %s",
                (user_id,),
            )
            row = await cursor.fetchone()
        return row is not None and row[0]

    async def media(self, media_id: int) -> MediaRecord | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(f"{_MEDIA} WHERE media_id = %s", (media_id,))
            row = await cursor.fetchone()
        return MediaRecord(*row) if row else None

    async def media_due(
        self, orphan_seconds: float, grace_seconds: float, limit: int
    ) -> list[tuple[int, int]]:
        """(media, owner) of uploads due for removal: never attached for `orphan_seconds`,
        or released by their tweet's deletion `grace_seconds` ago; oldest first."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "(SELECT media_id, owner_id FROM write_model.media"
                "  WHERE attached_to IS NULL AND NOT removed"
                "  AND created_at <= now() - make_interval(secs => %s)"
                "  ORDER BY created_at LIMIT %s)"
                " UNION ALL"
                " (SELECT media_id, owner_id FROM write_model.media"
                "  WHERE released_at IS NOT NULL AND NOT removed"
                "  AND released_at <= now() - make_interval(secs => %s)"
                "  ORDER BY released_at LIMIT %s)",
                (orphan_seconds, limit, grace_seconds, limit),
            )
            return [(row[0], row[1]) for row in await cursor.fetchall()]

    async def removed_media(self, limit: int) -> list[int]:
        """Uploads removed (MediaDeleted recorded) whose rows, and maybe files, remain."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT media_id FROM write_model.media WHERE removed ORDER BY media_id LIMIT %s",
                (limit,),
            )
            return [row[0] for row in await cursor.fetchall()]

    async def forget_media(self, media_ids: list[int]) -> None:
        """Drop the rows of removed uploads whose files are gone."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM write_model.media WHERE media_id = ANY(%s) AND removed",
                (media_ids,),
            )

    async def allocate_worker_id(self) -> int:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT nextval('write_model.snowflake_workers')")
            row = await cursor.fetchone()
        assert row is not None  # nextval always answers a row
        return row[0] % 1024

    async def ping(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def confirmed(self, event_ids: list[int]) -> None:
        if self.archive_schema is None:
            if event_ids:  # with any left marked while the outbox waited for the archive
                async with self.pool.connection() as conn:
                    await conn.execute(
                        "DELETE FROM write_model.unconfirmed_events"
                        " WHERE event_id = ANY(%s) OR acknowledged",
                        (event_ids,),
                    )
            return
        # Marked in the table, not in this process's memory: the relay of every API process
        # skips them, and the ones the archive holds now leave, whoever acknowledged them.
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            if event_ids:
                await conn.execute(
                    "UPDATE write_model.unconfirmed_events SET acknowledged = true"
                    " WHERE event_id = ANY(%s) AND NOT acknowledged",
                    (event_ids,),
                )
            await conn.execute(
                "DELETE FROM write_model.unconfirmed_events u"
                f" USING {self.archive_schema}.events a"
                " WHERE u.acknowledged AND a.event_id = u.event_id"
            )

    async def send_acknowledged_again(self) -> int:
        """The log lost what the broker had acknowledged (the local broker's memory, after a
        crash): the events still in the outbox because the archive did not hold them yet are
        unconfirmed again, so the relay sends them. Returns how many."""
        await self.confirmed([])  # those the archive holds now leave: restored from there
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE write_model.unconfirmed_events SET acknowledged = false WHERE acknowledged"
            )
            return cursor.rowcount

    async def actors_with_unconfirmed(self, older_than_seconds: float) -> list[str]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT DISTINCT actor FROM write_model.unconfirmed_events"
                " WHERE created_at < now() - make_interval(secs => %s) AND NOT acknowledged",
                (older_than_seconds,),
            )
            return [actor for (actor,) in await cursor.fetchall()]


async def _rows(cursor) -> list[tuple[int, bytes]]:
    return [(event_id, bytes(event)) for event_id, event in await cursor.fetchall()]
