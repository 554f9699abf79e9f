"""Running a command: load, decide, record, produce, answer after the broker's acknowledgement."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from commands.errors import DomainError, Refusal
from commands.model import Command, Decision, State
from commands.rules import decide, needs, username_reserved, username_taken
from commands.write_model import StoredResponse, WriteModel, WriteTransaction, WriteUnconfirmed
from infra.metrics import WRITES
from schemas.events import decode, encode
from schemas.sealing import new_key, owner, seal, sealable
from streams.ids import SnowflakeIds
from streams.producer import EventNotAcknowledged, EventProducer

log = logging.getLogger("chirp.commands")


async def _sealed(tx: WriteTransaction, decision: Decision, state: State) -> Decision:
    """The decision with its event's personal fields sealed under their owner's key (made
    now for a new account, or an account made before keys; schemas/sealing.py)."""
    event = decision.event
    if event is None or not sealable(event):
        return decision
    key = state.key
    if key is None:
        key = await tx.create_key(owner(event), new_key())
    return dataclasses.replace(decision, event=seal(event, key))


@dataclass(frozen=True)
class Answer:
    """What the caller is told: a status and a body (kept under an idempotency key and
    replayed as it was)."""

    status: int
    body: Any
    replayed: bool = False
    # The actor's rate-limit state after this write drew from it (what `Limits.take` gave).
    quota: Any = None


# How a command's result is told to its caller.
Render = Callable[[Any], Answer]  # takes the result of its own command


class Limits(Protocol):
    async def take(self, kind: str, user_id: int) -> Any:
        """Draw a token from the user's bucket of `kind`, returning the bucket's state for
        the caller (None: nothing to tell); raises past the limit."""


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, list] = {}

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]


# An outbox row this old is an event whose sending failed, or whose process died: it is sent
# again (younger ones are in flight).
RESEND_AFTER_EXTRA_SECONDS = 2.0
# How often acknowledged events leave the outbox, and how often the relay looks for others.
CONFIRM_INTERVAL_SECONDS = 0.2
RELAY_INTERVAL_SECONDS = 1.0


@dataclass
class CommandRunner:
    write_model: WriteModel
    producer: EventProducer
    ids: SnowflakeIds
    # Called with (the event's actor, where the event landed) once the broker acknowledged
    # it. The event's actor: a registration's is the new user, whose first reads then wait
    # for it like any other of their writes.
    after_ack: Callable[[int | None, Any], Awaitable[None]] | None = None
    # Per-user write limits: `take(kind, user id)` raises 429 past them.
    limits: Limits | None = None
    _actors: KeyedLocks = field(default_factory=KeyedLocks)
    # Acknowledged events still in the outbox: deleted from it in batches.
    _acknowledged: set[int] = field(default_factory=set)
    # Events sent by this process and not acknowledged yet: their acknowledgements.
    _in_flight: dict[int, asyncio.Future] = field(default_factory=dict)

    async def run(
        self, command: Command, render: Render, *, idempotency_key: str | None, fingerprint: str
    ) -> Answer:
        """Run `command`: read what its rules need, decide it (commands/rules.py), and record
        its changes and its event in the outbox (write_model.unconfirmed_events) in one
        write-model transaction; after the commit, produce the event and answer once the
        broker acknowledged it.

        A command refused (DomainError), or a transaction that does not commit, leaves
        nothing behind and sends nothing. An event the broker does not acknowledge stays in
        the outbox and is sent again until it is (WriteUnconfirmed). A retry with the same
        Idempotency-Key replays the stored answer instead of producing a second event. A
        new event draws a token from the actor's bucket of `command.draws` first (a replay
        draws none).
        """
        actor_id = command.actor_id
        scope = _scope(actor_id)
        # One actor's commands one at a time, so its events reach their partition in order:
        # what is left in its outbox first.
        async with self._actor_lock(actor_id):
            async with self.write_model.transaction() as tx:
                stored = None
                if idempotency_key is not None:
                    stored = await tx.claim_idempotency_key(scope, idempotency_key)
                if stored is not None:
                    try:  # the first attempt's event, if it is still unconfirmed
                        await self._send_unconfirmed(tx, scope, everything=True)
                    except EventNotAcknowledged as error:
                        raise WriteUnconfirmed("a retry of a write still unconfirmed") from error
                    return _replay(stored, fingerprint)
                state, unconfirmed = await tx.load(needs(command), scope, self._resend_after)
                # Ids later than the pair's last follow or block (commands/rules.py).
                next_id = functools.partial(self.ids.next_id, after=state.pair_clock)
                decision = decide(command, state, next_id, datetime.now(UTC))
                kind, quota = command.draws, None
                if (
                    decision.event is not None
                    and kind is not None
                    and actor_id is not None
                    and self.limits is not None
                ):
                    quota = await self.limits.take(kind, actor_id)
                await self._send_again(tx, scope, unconfirmed)
                if refusal := await tx.apply(decision.changes):
                    account = decision.changes.account
                    assert account is not None  # only a username taken refuses the changes
                    refuse = username_reserved if refusal == "username-reserved" else username_taken
                    raise refuse(account.username)
                decision = await _sealed(tx, decision, state)
                answer = dataclasses.replace(render(decision.result), quota=quota)
                if decision.event is not None:
                    await tx.keep_unconfirmed(
                        scope, decision.event.event_id, encode(decision.event)
                    )
                if idempotency_key is not None:
                    await tx.store_response(
                        scope,
                        idempotency_key,
                        StoredResponse(
                            fingerprint=fingerprint, status=answer.status, body=answer.body
                        ),
                    )
            if decision.event is None:
                return answer
            # Committed: the write is accepted and its event will reach the log.
            event_id = decision.event.event_id
            try:
                self._in_flight[event_id] = await self.producer.enqueue(decision.event)
            except EventNotAcknowledged as error:
                raise _kept(event_id) from error
        try:
            landed = await self.producer.wait(self._in_flight[event_id])
        except EventNotAcknowledged as error:
            raise _kept(event_id) from error
        finally:
            del self._in_flight[event_id]
        WRITES.labels("acknowledged").inc()
        self._acknowledged.add(event_id)
        if self.after_ack is not None:
            try:
                await self.after_ack(decision.event.actor_id, landed)
            except Exception as error:  # noqa: BLE001 - the write is done: answer it so
                log.warning("after the acknowledgement of event %s: %s", event_id, error)
        return answer

    async def _send_unconfirmed(
        self, tx: WriteTransaction, scope: str, everything: bool = False
    ) -> None:
        """Send the scope's outbox events that failed (all, if `everything`) again; raises
        EventNotAcknowledged unless the broker acknowledges every one."""
        older_than = None if everything else self._resend_after
        await self._send_again(tx, scope, await tx.unconfirmed(scope, older_than))

    async def _send_again(
        self, tx: WriteTransaction, scope: str, unconfirmed: list[tuple[int, bytes]]
    ) -> None:
        """Send `unconfirmed` (the scope's outbox events, read in `tx`) again, but for those
        acknowledged already; raises EventNotAcknowledged unless each is acknowledged."""
        pending = [
            (event_id, raw) for event_id, raw in unconfirmed if event_id not in self._acknowledged
        ]
        for event_id, raw in pending:
            # One this process sent is not sent twice: its acknowledgement is awaited.
            acked = self._in_flight.get(event_id) or await self.producer.enqueue(decode(raw))
            await self.producer.wait(acked)
        if pending:  # they leave the outbox with the others acknowledged (confirm_acknowledged)
            self._acknowledged.update(event_id for event_id, _ in pending)
            log.info("%d unconfirmed event(s) of %s acknowledged now", len(pending), scope)

    @property
    def _resend_after(self) -> float:
        return self.producer.timeout_ms / 1000 + RESEND_AFTER_EXTRA_SECONDS

    async def confirm_acknowledged(self) -> None:
        """Tell the write model which events were acknowledged since the last time: it takes
        them out of the outbox, or marks them until the archive holds them."""
        done = sorted(self._acknowledged)
        await self.write_model.confirmed(done)
        self._acknowledged.difference_update(done)

    async def relay_forever(self) -> None:
        """Empty the outbox of what was acknowledged, and send again what was not, also for
        actors who write no more. Two loops side by side: a resend waiting on a stalled
        broker never holds back the confirmations of events that were acknowledged."""
        await asyncio.gather(self._confirm_forever(), self._resend_forever())

    async def _confirm_forever(self) -> None:
        while True:
            await asyncio.sleep(CONFIRM_INTERVAL_SECONDS)
            try:
                await self.confirm_acknowledged()
            except Exception as error:  # noqa: BLE001 - the database is down: later
                log.warning("acknowledged events are not out of the outbox yet: %s", error)

    async def _resend_forever(self) -> None:
        while True:
            await asyncio.sleep(RELAY_INTERVAL_SECONDS)
            try:
                for scope in await self.write_model.actors_with_unconfirmed(self._resend_after):
                    async with (
                        self._actor_lock(_actor(scope)),
                        self.write_model.transaction() as tx,
                    ):
                        await self._send_unconfirmed(tx, scope)
            except Exception as error:  # noqa: BLE001 - the log or the database is down: later
                log.warning("the outbox is not emptied yet: %s", error)

    def _actor_lock(self, actor_id: int | None):
        if actor_id is None:
            return _no_lock()
        return self._actors.hold(actor_id)


def _scope(actor_id: int | None) -> str:
    return f"user:{actor_id}" if actor_id is not None else "anonymous"


def _actor(scope: str) -> int | None:
    """The actor of a `_scope`."""
    return None if scope == "anonymous" else int(scope.removeprefix("user:"))


def _kept(event_id: int) -> WriteUnconfirmed:
    """A committed write whose event the broker has not acknowledged: it stays in the outbox."""
    WRITES.labels("unconfirmed").inc()
    return WriteUnconfirmed(event_id)


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def _replay(stored: StoredResponse, fingerprint: str) -> Answer:
    if stored.fingerprint != fingerprint:
        raise DomainError(
            Refusal.INVALID,
            "idempotency-key-reused",
            "Idempotency-Key Reused",
            "this Idempotency-Key was used with a different request; use a new key",
        )
    return Answer(stored.status, stored.body, replayed=True)
