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
"""

from __future__ import annotations

from agents.batches import Apply
from agents.context import AgentContext
from schemas import events as ev


async def deleted_among(context: AgentContext, user_ids: set[int]) -> set[int]:
    """Those of `user_ids` whose accounts are deleted."""
    if not user_ids:
        return set()
    async with context.models.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id FROM write_model.accounts"
            " WHERE user_id = ANY(%s) AND deleted_at IS NOT NULL",
            (sorted(user_ids),),
        )
        return {row[0] for row in await cursor.fetchall()}


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
    """`events` without those by or about deleted users, and with a UserDeleted again for
    each deleted user a kept post names."""
    named: set[int] = set()
    for event in events:
        named |= ev.principal_users(event) | ev.referenced_users(event)
    deleted = await deleted_among(context, named)
    if not deleted:
        return events
    kept: list[ev.Event] = []
    again: dict[int, ev.Event] = {}
    for event in events:
        if isinstance(event, ev.UserDeleted):
            kept.append(event)
        elif not ev.principal_users(event) & deleted:
            kept.append(event)
            for user_id in sorted(ev.referenced_users(event) & deleted):
                again.setdefault(user_id, event)
    kept += [
        ev.UserDeleted(
            event_id=event.event_id, occurred_at=event.occurred_at, actor_id=user, user_id=user
        )
        for user, event in again.items()
    ]
    return kept


def screened(apply: Apply) -> Apply:
    """`apply`, given each batch screened."""

    async def apply_screened(context: AgentContext, events: list[ev.Event]) -> None:
        await apply(context, await screen(context, events))

    apply_screened.__name__ = apply_screened.__qualname__ = f"screened_{apply.__name__}"
    return apply_screened
