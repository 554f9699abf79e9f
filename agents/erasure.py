"""What the read models apply of deleted accounts: nothing more (docs/safety.md).

A deleted user's events, and other users' events about them (a like of their tweet, a
follow of them), may reach a read model after their UserDeleted: from another partition,
in flight at the deletion, or in a replay, which applies the archive one partition after
another. Before a batch is applied, the users it names are looked up in the write model
(one query per batch, on an index of the deleted accounts alone):

- an event by or about a deleted user (schemas/events.py, PRINCIPAL_USER_FIELDS) is
  dropped; its UserDeleted is kept;
- a post that replies to, quotes or mentions a deleted user is kept (another user's words),
  and the batch then ends with that user's UserDeleted again, so what the post added about
  them (a reply count, a notification) is erased with the rest. Erasure is idempotent.

So the read models end the same whichever order the events arrive in, live or replayed.

The same look-up brings the keys that open the batch's sealed events (schemas/sealing.py):
the personal fields are in the clear only in the agents' memory and the read models.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.batches import Apply
from agents.context import AgentContext
from schemas import events as ev
from schemas import sealing

# Keys held in memory: about 100 bytes each with the cache's own, so some 10 MB at most.
KEY_CACHE_SIZE = 100_000
KEY_CACHE_SECONDS = 600.0


class Keys:
    """The keys sealed events are opened with, as the write model holds them: a bounded
    cache in front of it. A key leaves it when its account is seen deleted (its UserDeleted,
    or a batch naming a deleted user), `seconds` after it was read (a key destroyed by a
    deletion another worker applied lives in no memory longer), and, past `size` keys, the
    longest held first. A plain dict: cachetools' TTLCache took 2.5 ms for a batch's 1,000
    look-ups here, this 0.07 ms."""

    def __init__(
        self,
        size: int = KEY_CACHE_SIZE,
        seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size, self.seconds, self._clock = size, seconds, clock
        self._keys: dict[int, tuple[bytes, float]] = {}  # in the order they were read

    def known(self, user_ids: set[int]) -> dict[int, bytes]:
        now, found = self._clock(), {}
        for user_id in user_ids:
            entry = self._keys.get(user_id)
            if entry is None:
                continue
            if entry[1] > now:
                found[user_id] = entry[0]
            else:
                del self._keys[user_id]
        return found

    def learn(self, keys: dict[int, bytes]) -> None:
        until = self._clock() + self.seconds
        for user_id, key in keys.items():
            self._keys.pop(user_id, None)
            self._keys[user_id] = (key, until)
        while len(self._keys) > self.size:
            del self._keys[next(iter(self._keys))]

    def forget(self, user_ids: set[int]) -> None:
        for user_id in user_ids:
            self._keys.pop(user_id, None)


KEYS = Keys()


async def look_up(
    context: AgentContext, user_ids: set[int], owners: set[int]
) -> tuple[set[int], dict[int, bytes]]:
    """Those of `user_ids` whose accounts are deleted, and the keys of `owners` (the owners
    of the batch's sealed events): one round trip, with the keys not cached only."""
    keys = KEYS.known(owners)
    missing = sorted(owners - set(keys))
    # One statement (a pipeline of two cost a third more here): the deleted among the
    # users named, on the partial index of deleted accounts, then the keys not cached.
    async with context.models.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id, NULL::bytea FROM write_model.accounts"
            " WHERE user_id = ANY(%s) AND deleted_at IS NOT NULL"
            " UNION ALL SELECT user_id, key FROM write_model.user_keys WHERE user_id = ANY(%s)",
            (sorted(user_ids), missing),
        )
        rows = await cursor.fetchall()
    gone = {user for user, key in rows if key is None}
    fetched = {user: bytes(key) for user, key in rows if key is not None}
    KEYS.forget(gone)
    KEYS.learn({user: key for user, key in fetched.items() if user not in gone})
    return gone, {user: key for user, key in (keys | fetched).items() if user not in gone}


async def usernames_of(context: AgentContext, user_ids: set[int]) -> dict[int, str]:
    """The usernames of these accounts, deleted ones too (the search index knows a tweet's
    author by username)."""
    if not user_ids:
        return {}
    async with context.models.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id, username FROM write_model.accounts WHERE user_id = ANY(%s)",
            (sorted(user_ids),),
        )
        return dict(await cursor.fetchall())


async def screen(context: AgentContext, events: list[ev.Event]) -> list[ev.Event]:
    """`events` opened (their sealed fields in the clear), without those by or about deleted
    users, and with a UserDeleted again for each deleted user a kept post names."""
    named: set[int] = set()
    for event in events:
        named |= ev.principal_users(event) | ev.referenced_users(event)
    owners = {sealing.owner(event) for event in events if sealing.is_sealed(event)}
    deleted, keys = await look_up(context, named, owners)
    if not deleted and not owners:
        return events
    kept: list[ev.Event] = []
    again: dict[int, ev.Event] = {}
    for event in events:
        if isinstance(event, ev.UserDeleted):
            KEYS.forget({event.user_id})
            kept.append(event)
        elif not ev.principal_users(event) & deleted:
            kept.append(_opened(event, keys))
            for user_id in sorted(ev.referenced_users(event) & deleted):
                again.setdefault(user_id, event)
    kept += [
        ev.UserDeleted(
            event_id=event.event_id, occurred_at=event.occurred_at, actor_id=user, user_id=user
        )
        for user, event in again.items()
    ]
    return kept


def _opened(event: ev.Event, keys: dict[int, bytes]) -> ev.Event:
    if not sealing.is_sealed(event):
        return event
    key = keys.get(sealing.owner(event))
    if key is None:
        raise sealing.Unsealable(f"event {event.event_id}: its owner's key is missing")
    return sealing.unseal(event, key)


def screened(apply: Apply) -> Apply:
    """`apply`, given each batch screened."""

    async def apply_screened(context: AgentContext, events: list[ev.Event]) -> None:
        await apply(context, await screen(context, events))

    apply_screened.__name__ = apply_screened.__qualname__ = f"screened_{apply.__name__}"
    return apply_screened
